"""The app's persistent settings (QSettings, organisation "FaceLab"), behind names.

An INI file in the user's config folder on every platform: readable, and the tests
point it at a temporary folder with ``QSettings.setPath``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

ORGANISATION = "FaceLab"
APPLICATION = "FaceLab"
MAX_RECENT = 8


class AppSettings:
    def __init__(self) -> None:
        self._qs = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                             ORGANISATION, APPLICATION)

    def sync(self) -> None:
        self._qs.sync()

    # Projects -----------------------------------------------------------------
    def recent_projects(self) -> list[str]:
        value = self._qs.value("projects/recent", [])
        if isinstance(value, str):  # QSettings gives a lone string for a 1-item list
            value = [value]
        return [str(v) for v in value or []]

    def add_recent_project(self, path: Path | str) -> None:
        path = str(path)
        recent = [path] + [p for p in self.recent_projects() if p != path]
        self._qs.setValue("projects/recent", recent[:MAX_RECENT])
        self._qs.setValue("projects/last", path)

    def remove_recent_project(self, path: Path | str) -> None:
        self._qs.setValue("projects/recent",
                          [p for p in self.recent_projects() if p != str(path)])
        if self.last_project() == str(path):
            self._qs.remove("projects/last")

    def last_project(self) -> str | None:
        value = self._qs.value("projects/last")
        return str(value) if value else None

    def forget_last_project(self) -> None:
        """Closing a project on purpose: the next start shows the welcome page."""
        self._qs.remove("projects/last")

    # Appearance ---------------------------------------------------------------
    @property
    def dark_theme(self) -> bool:
        return self._bool("appearance/dark", False)

    @dark_theme.setter
    def dark_theme(self, value: bool) -> None:
        self._qs.setValue("appearance/dark", bool(value))

    # Library ------------------------------------------------------------------
    @property
    def labels_from_folders(self) -> bool:
        return self._bool("library/labels_from_folders", True)

    @labels_from_folders.setter
    def labels_from_folders(self, value: bool) -> None:
        self._qs.setValue("library/labels_from_folders", bool(value))

    # Window state (opaque blobs from Qt) --------------------------------------
    def blob(self, key: str) -> QByteArray | None:
        value = self._qs.value(f"window/{key}")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_blob(self, key: str, value: QByteArray) -> None:
        self._qs.setValue(f"window/{key}", value)

    def _bool(self, key: str, default: bool) -> bool:
        value = self._qs.value(key, default)
        if isinstance(value, str):  # INI files store booleans as text
            return value.lower() in ("true", "1", "yes")
        return bool(value)
