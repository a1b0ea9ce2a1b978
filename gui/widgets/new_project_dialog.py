"""New project: a folder typed or browsed to, which may not exist yet (FaceLab makes
it). The system's folder picker greys out "Choose" for a folder that does not exist,
saying why only in its title bar; here the reason is a sentence under the path, from
the engine's rule (engine.project.new_project_folder)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QHBoxLayout, QLabel,
                               QLineEdit, QPushButton, QVBoxLayout, QWidget)

from engine.project import new_project_folder
from gui.theme import set_muted


class NewProjectDialog(QDialog):
    def __init__(self, start_path: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New project")
        self.setMinimumWidth(560)
        intro = QLabel("A project is a folder holding the catalog of your photos' faces, "
                       "their crops and the trained runs. Type the folder for the new "
                       "project (a new one is created) or choose one with Browse.")
        intro.setWordWrap(True)
        self.path_edit = QLineEdit(start_path)
        self.path_edit.setPlaceholderText("Folder of the new project")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self.browse)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        self.hint_label = QLabel()
        self.hint_label.setWordWrap(True)
        set_muted(self.hint_label)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.create_button = self.buttons.addButton("Create",
                                                    QDialogButtonBox.ButtonRole.AcceptRole)
        self.create_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(row)
        layout.addWidget(self.hint_label)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.path_edit.textChanged.connect(self._update)
        self._update()

    def path(self) -> str:
        return self.path_edit.text().strip()

    def browse(self) -> None:
        current = Path(self.path()).expanduser() if self.path() else Path.home()
        start = next((p for p in (current, *current.parents) if p.is_dir()), Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Folder for the new project",
                                                  str(start))
        if folder:
            self.path_edit.setText(folder)

    def _update(self) -> None:
        if not self.path():
            usable, text = False, "Type the folder of the new project, or use Browse."
        else:
            usable, text = new_project_folder(self.path())
        self.create_button.setEnabled(usable)
        self.hint_label.setText(text)
