"""The open project as the UI thread sees it: the catalog's mutations, each followed
by a signal that says what changed (Anki's pattern), so every view redraws only that.

Pages get a session (and the job runner), never the main window. Catalog errors are
already worded for the user; they come out as ``error_occurred(message)`` and the
mutation returns None/False, leaving the project as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from PySide6.QtCore import QObject, Signal

from engine.catalog import Catalog, CatalogError, LabelChange, Person
from engine.project import Project


@dataclass(frozen=True)
class PersonRow:
    id: int
    name: str
    count: int  # labelled, non-rejected faces
    number_key: int | None = None  # 1-9: labels with this person; stays with the person


class ProjectSession(QObject):
    labels_changed = Signal(object)   # LabelChange: refresh exactly its face_ids
    persons_changed = Signal()        # added, renamed, merged, deleted or counts moved
    faces_changed = Signal()          # faces added (import), rejected or restored
    history_changed = Signal()        # can_undo / can_redo may differ
    label_issues_changed = Signal()   # suspicious labels found again, or a verdict given
    error_occurred = Signal(str)

    def __init__(self, project: Project, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project = project

    @property
    def catalog(self) -> Catalog:
        return self.project.catalog

    @property
    def root(self) -> Path:
        return self.project.root

    def close(self) -> None:
        self.project.close()

    # Queries ------------------------------------------------------------------
    def person_rows(self) -> list[PersonRow]:
        """Persons with a number key first, in key order (a new person joins the end and
        moves nobody), then the others by name."""
        counts = self.catalog.person_counts()
        rows = [PersonRow(p.id, p.name, counts.get(p.name, 0), p.number_key)
                for p in self.catalog.persons()]
        return sorted(rows, key=lambda r: (r.number_key is None, r.number_key or 0))

    def can_undo(self) -> bool:
        return self.catalog.can_undo()

    def can_redo(self) -> bool:
        return self.catalog.can_redo()

    # Labels -------------------------------------------------------------------
    def label_faces(self, face_ids: Iterable[int], person_id: int | None) -> LabelChange | None:
        """Label (or with None unlabel) faces as one undoable action, saved at once."""
        try:
            change = self.catalog.set_labels(face_ids, person_id)
        except CatalogError as exc:
            self.error_occurred.emit(str(exc))
            return None
        self._announce(change)
        return change

    def label_faces_as_new_person(self, face_ids: Iterable[int], name: str) -> LabelChange | None:
        person = self.create_person(name)
        return self.label_faces(face_ids, person.id) if person else None

    def undo(self) -> LabelChange | None:
        return self._step(self.catalog.undo)

    def redo(self) -> LabelChange | None:
        return self._step(self.catalog.redo)

    def _step(self, step) -> LabelChange | None:
        try:
            change = step()
        except CatalogError as exc:
            self.error_occurred.emit(str(exc))
            return None
        self._announce(change)
        return change

    def _announce(self, change: LabelChange | None) -> None:
        if change is not None:
            if change.face_ids:
                self.labels_changed.emit(change)
            if change.rejected_face_ids:
                self.faces_changed.emit()
            self.persons_changed.emit()  # counts moved, or persons renamed, gone, back
        self.history_changed.emit()

    # Persons ------------------------------------------------------------------
    def create_person(self, name: str) -> Person | None:
        try:
            person = self.catalog.ensure_person(name)
        except CatalogError as exc:
            self.error_occurred.emit(str(exc))
            return None
        self.persons_changed.emit()
        return person

    def rename_person(self, person_id: int, new_name: str) -> bool:
        """Rename (an undoable action); the engine says which names are allowed."""
        return self._person_action(lambda: self.catalog.rename_person(person_id, new_name))

    def merge_persons(self, source_id: int, target_id: int) -> bool:
        return self._person_action(lambda: self.catalog.merge_persons(source_id, target_id))

    def delete_person(self, person_id: int) -> bool:
        return self._person_action(lambda: self.catalog.delete_person(person_id))

    def set_number_key(self, person_id: int, key: int | None) -> bool:
        """Pin a person to a number key (not an action: nothing is labelled)."""
        try:
            self.catalog.set_number_key(person_id, key)
        except CatalogError as exc:
            self.error_occurred.emit(str(exc))
            return False
        self.persons_changed.emit()
        return True

    def _person_action(self, mutation) -> bool:
        try:
            change = mutation()
        except CatalogError as exc:
            self.error_occurred.emit(str(exc))
            return False
        self._announce(change if isinstance(change, LabelChange) else None)
        if not isinstance(change, LabelChange):  # a rename: no face changed
            self.persons_changed.emit()
        return True

    # Faces --------------------------------------------------------------------
    def set_rejected(self, face_ids: Iterable[int], rejected: bool) -> bool:
        """Mark detections as not a face (hidden from the library and training), as
        one undoable action."""
        try:
            change = self.catalog.set_rejected(face_ids, rejected)
        except CatalogError as exc:
            self.error_occurred.emit(str(exc))
            return False
        self._announce(change)
        return True

    def notify_label_issues_changed(self) -> None:
        """The label-mistake finder's list or a verdict on it changed."""
        self.label_issues_changed.emit()

    def notify_faces_added(self) -> None:
        """A job (import, crop) wrote new faces through its own connection."""
        self.faces_changed.emit()
        self.persons_changed.emit()
