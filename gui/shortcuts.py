"""Every keyboard shortcut in one table: the menus take their keys from here and the
Help → Keyboard shortcuts dialog lists it, so the two cannot drift apart.

``keys`` are QKeySequence's portable strings; entries without an ``action`` name are
handled by a widget's key handler (the grid's number keys) and only documented here.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QKeySequence


@dataclass(frozen=True)
class Shortcut:
    where: str
    keys: tuple[str, ...]
    description: str
    action: str | None = None  # the menu action that owns these keys


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("Everywhere", ("Ctrl+N",), "New project", "new_project"),
    Shortcut("Everywhere", ("Ctrl+O",), "Open project", "open_project"),
    Shortcut("Everywhere", ("Ctrl+I",), "Import photos", "import_photos"),
    Shortcut("Everywhere", ("Ctrl+Shift+I",), "Import a folder", "import_folder"),
    Shortcut("Everywhere", ("Ctrl+Z",), "Undo the last change of labels or persons "
             "(also merge, rename, delete, not a face)", "undo"),
    Shortcut("Everywhere", ("Ctrl+Shift+Z", "Ctrl+Y"), "Redo", "redo"),
    Shortcut("Everywhere", ("Ctrl+1", "Ctrl+2", "Ctrl+3", "Ctrl+4"),
             "Go to Library, Train, Evaluate, Webcam"),
    Shortcut("Everywhere", ("Ctrl+Shift+D",), "Dark theme on/off", "dark_theme"),
    Shortcut("Everywhere", ("F1",), "Keyboard shortcuts (this list)", "shortcuts"),
    Shortcut("Everywhere", ("Ctrl+Q",), "Quit", "quit"),
    Shortcut("Library grid", ("1", "2", "3", "4", "5", "6", "7", "8", "9"),
             "Label the selected faces as the person showing that key in the list "
             "(a person keeps their key; right-click a person to change it)"),
    Shortcut("Library grid", ("0", "Del", "Backspace"), "Unlabel the selected faces"),
    Shortcut("Library grid", ("A-Z",),
             "Type a name: search persons; Enter labels (a new name creates the person)"),
    Shortcut("Library grid", ("Ctrl+F",), "Label the selected faces as… (person search)",
             "find_person"),
    Shortcut("Library grid", ("Return", "Space"), "Open the photo of the current face"),
    Shortcut("Library grid", ("Ctrl+A",), "Select every face shown"),
    Shortcut("Person search", ("Up", "Down"), "Choose a person"),
    Shortcut("Person search", ("Return",), "Label the selected faces"),
    Shortcut("Person search", ("Esc",), "Close the search"),
    Shortcut("Photo viewer", ("1", "2", "3", "4", "5", "6", "7", "8", "9"),
             "Label the chosen face as the person with that key"),
    Shortcut("Photo viewer", ("0",), "Unlabel the chosen face"),
    Shortcut("Photo viewer", ("X",), "Not a face / a face again"),
    Shortcut("Evaluate: error gallery", ("L",), "Label the chosen face as… (relabel in place)"),
    Shortcut("Evaluate: suspicious labels", ("A",), "Accept: relabel to the suggested person"),
    Shortcut("Evaluate: suspicious labels", ("R",), "Reject: keep the label"),
)


def keys_for(action: str) -> list[QKeySequence]:
    for shortcut in SHORTCUTS:
        if shortcut.action == action:
            return [QKeySequence(k) for k in shortcut.keys]
    raise KeyError(action)


def display_keys(shortcut: Shortcut) -> str:
    """Keys as the platform writes them (⌘ on macOS); ranges like 1-9 shortened."""
    keys = shortcut.keys
    if len(keys) == 9 and keys[0] == "1":
        return "1 … 9"
    native = [QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) or k
              if k != "A-Z" else "A … Z" for k in keys]
    return ",  ".join(native)
