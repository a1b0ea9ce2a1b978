"""The Library page: every face of the project in a thumbnail grid, the persons, and
the labelling keys. Import (menu, folder dialog, drag and drop) has one code path:
:meth:`LibraryPage.import_paths`.

Labelled faces stay in view when they stop matching the filter (e.g. "Unlabelled"),
so nothing jumps under the user's cursor and an undo shows its effect in place; the
filter is re-applied when it is chosen again or faces are added.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

from PySide6.QtCore import (QByteArray, QEvent, QItemSelection, QItemSelectionModel, Qt,
                            QTimer, Signal)
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QPalette
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QHBoxLayout, QLabel, QMenu, QSplitter,
                               QToolButton, QVBoxLayout, QWidget)

from gui.icons import icon
from gui.jobs import JobHandle
from gui.jobs.project_jobs import ImportSummary, import_and_crop
from gui.models import face_filter as ff
from gui.models.face_filter import FaceFilter
from gui.models.face_grid import FaceGridModel, contiguous_runs
from gui.models.persons import PersonListModel
from gui.models.thumbnails import ThumbnailCache, placeholder_pixmap
from gui.pages.page_context import PageContext
from gui.shortcuts import keys_for
from gui.theme import set_muted
from gui.widgets.face_grid_view import FaceGridView
from gui.widgets.person_panel import PersonPanel
from gui.widgets.person_search import PersonSearchBar
from gui.widgets.photo_viewer import PhotoViewerDialog

IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.gif *.bmp *.pgm *.ppm *.tif *.tiff *.webp)"
LIVE_REFRESH_S = 2.0  # during an import, show the new faces this often
THUMB_SIZE = 96  # logical pixels; the cache decodes at this times the screen's ratio
EMPTY_PROJECT_TEXT = ("No faces yet.\n\nDrop photos or a folder of photos here, or use the "
                      "Import button above.\nWith “Name persons after folders”, a folder "
                      "holding one sub-folder per person is labelled as it is imported.")


class LibraryPage(QWidget):
    """Signals: ``info_posted(text, details)`` for results worth telling the user
    (import finished or cancelled); errors reach the window through the session and
    the job runner."""

    info_posted = Signal(str, str)

    def __init__(self, context: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session = context.session
        self._runner = context.runner
        self._settings = context.settings
        self._filter = FaceFilter()
        self._import_job: JobHandle | None = None
        self._import_queue: list[tuple[tuple[str, ...], bool]] = []
        self._last_live_refresh = 0.0
        self.photo_viewer: PhotoViewerDialog | None = None
        self.setAcceptDrops(True)

        self.thumbnails = ThumbnailCache(THUMB_SIZE, parent=self)
        self.persons_model = PersonListModel(self)
        self.grid_model = FaceGridModel(self._session.catalog, self.thumbnails, self)
        self.person_panel = PersonPanel(self._session, self.persons_model)
        self.grid_view = FaceGridView(THUMB_SIZE)
        self.grid_view.setModel(self.grid_model)
        self.search_bar = PersonSearchBar(self.persons_model)
        self._build_layout()
        self._connect()
        self._update_ratio()
        self._refresh_persons()
        self._refresh_counts()
        self.set_filter(FaceFilter(), force=True)
        self.person_panel.select_filter(self._filter)

    # ------------------------------------------------------------ public API
    def import_paths(self, paths: Sequence[str | Path],
                     labels_from_folders: bool) -> JobHandle | None:
        """Import photos and folders, then find and crop their faces, as one job with
        progress and cancel. A second import waits for the first."""
        paths = tuple(str(p) for p in paths)
        if not paths:
            return None
        if self._import_job is not None:
            self._import_queue.append((paths, labels_from_folders))
            self.info_posted.emit("The import will start when the current one finishes.", "")
            return None
        names = ", ".join(Path(p).name for p in paths[:3]) + ("…" if len(paths) > 3 else "")
        job = self._runner.submit(import_and_crop(self._session.root, paths, labels_from_folders),
                                  title=f"Import {names}")
        job.progress_changed.connect(self._on_import_progress)
        job.succeeded.connect(self._on_import_succeeded)
        job.cancelled.connect(self._on_import_cancelled)
        job.finished.connect(self._on_import_finished)
        self._import_job = job
        return job

    def import_photos_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Import photos", "", IMAGE_FILTER)
        if files:
            self.import_paths(files, labels_from_folders=False)

    def import_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import a folder of photos")
        if folder:
            self.import_paths([folder], self.folders_checkbox.isChecked())

    def show_face_set(self, title: str, face_ids: Sequence[int]) -> None:
        """Show an outside list of faces, e.g. those a run misclassified (Evaluate)."""
        self.person_panel.add_face_set(FaceFilter(ff.FACE_SET, title,
                                                  face_ids=tuple(face_ids)))

    def set_filter(self, face_filter: FaceFilter, force: bool = False) -> None:
        if face_filter == self._filter and not force:
            return
        self._filter = face_filter
        self._requery()

    @property
    def current_filter(self) -> FaceFilter:
        return self._filter

    def selected_face_ids(self) -> list[int]:
        ids: list[int] = []
        for selection_range in self.grid_view.selectionModel().selection():
            ids += [self.grid_model.face_id(row)
                    for row in range(selection_range.top(), selection_range.bottom() + 1)]
        return ids

    def select_faces(self, face_ids: Sequence[int]) -> None:
        """Select these faces (one selection change, however many), the last current."""
        rows = sorted(r for r in map(self.grid_model.row_of, face_ids) if r is not None)
        selection = QItemSelection()
        for first, last in contiguous_runs(rows):
            selection.select(self.grid_model.index(first), self.grid_model.index(last))
        model = self.grid_view.selectionModel()
        model.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        last_row = self.grid_model.row_of(face_ids[-1]) if face_ids else None
        if last_row is not None:
            model.setCurrentIndex(self.grid_model.index(last_row),
                                  QItemSelectionModel.SelectionFlag.NoUpdate)

    def assign_selected(self, person_id: int | None) -> None:
        """Label (None: unlabel) the selected faces: one undoable action, saved at once."""
        ids = self.selected_face_ids()
        if ids:
            self._session.label_faces(ids, person_id)

    def assign_selected_to_new_person(self, name: str) -> None:
        ids = self.selected_face_ids()
        if ids:
            self._session.label_faces_as_new_person(ids, name)
        else:
            self._session.create_person(name)

    def open_photo_viewer(self, face_id: int) -> PhotoViewerDialog:
        viewer = PhotoViewerDialog(self._session, self._runner, self.persons_model, face_id,
                                   self)
        viewer.finished.connect(self._on_viewer_closed)
        viewer.show()
        self.photo_viewer = viewer
        return viewer

    def _on_viewer_closed(self) -> None:
        self.photo_viewer = None  # closing deletes it (WA_DeleteOnClose)

    def shutdown(self) -> None:
        """The project is closing: stop decoding thumbnails for it. (A photo viewer,
        a child of this page, goes with it.)"""
        self.thumbnails.loader.wait_for_done()

    def save_state(self) -> QByteArray:
        return self.splitter.saveState()

    def restore_state(self, state: QByteArray) -> None:
        self.splitter.restoreState(state)

    # ------------------------------------------------------------- building
    def _build_layout(self) -> None:
        self.title_label = QLabel()
        font = self.title_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.title_label.setFont(font)
        self.count_label = QLabel()
        set_muted(self.count_label)
        self.folders_checkbox = QCheckBox("Name persons after folders")
        self.folders_checkbox.setToolTip(
            "When importing a folder, each sub-folder's name becomes the person of its "
            "photos (folder/PERSON/photo.jpg)")
        self.folders_checkbox.setChecked(self._settings.labels_from_folders)
        header = QHBoxLayout()
        header.setContentsMargins(10, 8, 10, 4)
        header.addWidget(self.title_label)
        header.addSpacing(8)
        header.addWidget(self.count_label)
        header.addStretch(1)
        header.addWidget(self.folders_checkbox)
        self.import_button = self._import_button()
        header.addWidget(self.import_button)

        center = QWidget()
        column = QVBoxLayout(center)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addLayout(header)
        column.addWidget(self.search_bar)
        column.addWidget(self.grid_view, 1)
        self.splitter = QSplitter()
        self.splitter.addWidget(self.person_panel)
        self.splitter.addWidget(center)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([240, 900])
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

        self.find_person_action = QAction("Label selected faces as…", self)
        self.find_person_action.setShortcuts(keys_for("find_person"))
        self.find_person_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.find_person_action.triggered.connect(lambda: self.search_bar.start())
        self.addAction(self.find_person_action)

    def _import_button(self) -> QToolButton:
        button = QToolButton()
        button.setText("Import")
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(button)
        menu.addAction("Photos…", self.import_photos_dialog)
        menu.addAction("Folder…", self.import_folder_dialog)
        button.setMenu(menu)
        return button

    def _connect(self) -> None:
        session, grid = self._session, self.grid_view
        session.labels_changed.connect(self._on_labels_changed)
        session.persons_changed.connect(self._on_persons_changed)
        session.faces_changed.connect(self._on_faces_changed)
        session.label_issues_changed.connect(self._on_label_issues_changed)
        self.person_panel.filter_chosen.connect(self.set_filter)
        grid.number_key_pressed.connect(self._on_number_key)
        grid.unlabel_key_pressed.connect(lambda: self.assign_selected(None))
        grid.search_typed.connect(self.search_bar.start)
        grid.photo_requested.connect(self.open_photo_viewer)
        grid.selectionModel().selectionChanged.connect(self._update_counts_label)
        self.search_bar.person_chosen.connect(self.assign_selected)
        self.search_bar.new_person_named.connect(self.assign_selected_to_new_person)
        self.search_bar.closed.connect(lambda: self.grid_view.setFocus())
        self.folders_checkbox.toggled.connect(self._remember_folders_choice)
        self._refresh_timer = QTimer(self, singleShot=True, interval=0,
                                     timeout=self._refresh_counts)

    # ------------------------------------------------------------- reactions
    def _on_labels_changed(self, change) -> None:
        self.grid_model.refresh_faces(change.face_ids)  # only the rows that changed

    def _on_number_key(self, number: int) -> None:
        person = self.persons_model.person_for_number_key(number)
        if person is not None:
            self.assign_selected(person.id)

    def _on_persons_changed(self) -> None:
        # Persons at once (the number keys must map to the list the user sees); the
        # filter counts, a few queries over every face, once per burst of changes.
        self._refresh_persons()
        self._refresh_timer.start()

    def _refresh_persons(self) -> None:
        self.persons_model.set_persons(self._session.person_rows())
        names = self.persons_model.names()
        self.grid_model.set_person_names(names)
        if self._filter.kind != ff.PERSON:
            return
        if self._filter.person_id in names:  # keep the person selected after a reset
            shown = ff.person_filter(self._filter.person_id, names[self._filter.person_id])
            if shown.title != self._filter.title:  # renamed (or a rename undone)
                self._filter = shown  # same faces: no new query, only the header's name
                self.title_label.setText(shown.title)
                self._update_empty_text()
            self.person_panel.select_filter(shown)
        else:  # merged away or deleted
            self.person_panel.select_filter(FaceFilter())

    def _refresh_counts(self) -> None:
        catalog = self._session.catalog
        self.person_panel.set_filter_counts({
            ff.ALL: len(catalog.face_ids()),
            ff.UNLABELLED: len(catalog.face_ids(unlabelled=True)),
            ff.NO_FACE: len(catalog.face_ids(whole_image=True)),
            ff.SUSPICIOUS: len(catalog.runs.label_issues())})
        self._update_counts_label()

    def _on_label_issues_changed(self) -> None:
        if self._filter.kind == ff.SUSPICIOUS:
            self._requery(keep_selection=True)
        self._refresh_timer.start()

    def _on_faces_changed(self) -> None:
        self._requery(keep_selection=True)
        self._refresh_timer.start()

    def _requery(self, keep_selection: bool = False) -> None:
        selected = self.selected_face_ids() if keep_selection else []
        self.grid_model.set_face_ids(self._filter.query(self._session.catalog))
        if selected:
            self.select_faces(selected)
        self.title_label.setText(self._filter.title)
        self._update_empty_text()
        self._update_counts_label()

    def _update_empty_text(self) -> None:
        has_faces = self.grid_model.rowCount() > 0 or bool(self._session.catalog.face_ids())
        self.grid_view.empty_text = (f"No faces in “{self._filter.title}”." if has_faces
                                     else EMPTY_PROJECT_TEXT)

    def _update_counts_label(self, *_) -> None:
        shown = self.grid_model.rowCount()
        selected = sum(r.height() for r in self.grid_view.selectionModel().selection())
        text = f"{shown:,} face{'s' if shown != 1 else ''}"
        self.count_label.setText(text + (f"  ·  {selected:,} selected" if selected else ""))

    def _remember_folders_choice(self, checked: bool) -> None:
        self._settings.labels_from_folders = checked

    def _on_import_progress(self, progress) -> None:
        # Faces appear while the crop goes on (rows are appended, nothing jumps).
        now = time.monotonic()
        if progress.stage == "crop" and now - self._last_live_refresh >= LIVE_REFRESH_S:
            self._last_live_refresh = now
            self._session.notify_faces_added()

    def _on_import_succeeded(self, summary: ImportSummary) -> None:
        details = "\n".join(f"{path}: {reason}" for path, reason in summary.skipped)
        if summary.notice:
            details = summary.notice + ("\n\n" + details if details else "")
        self.info_posted.emit(summary.text(), details)

    def _on_import_cancelled(self) -> None:
        self.info_posted.emit("Import cancelled. The photos imported so far are kept; "
                              "import the same folder again to go on.", "")

    def _on_import_finished(self) -> None:
        self._import_job = None
        self._session.notify_faces_added()
        if self._import_queue:
            paths, labels_from_folders = self._import_queue.pop(0)
            self.import_paths(paths, labels_from_folders)

    # ------------------------------------------------------- drag and drop, DPI
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _local_paths(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = _local_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.import_paths(paths, self.folders_checkbox.isChecked())

    def event(self, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.DevicePixelRatioChange, QEvent.Type.PaletteChange):
            self._update_ratio()
        return super().event(event)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._update_ratio()

    def _update_ratio(self) -> None:
        ratio = self.devicePixelRatioF()
        self.thumbnails.set_device_pixel_ratio(ratio)
        colour = self.palette().color(QPalette.ColorRole.Text)
        self.grid_model.set_placeholder(placeholder_pixmap(THUMB_SIZE, ratio, colour))
        self.import_button.setIcon(icon("import", self.palette().color(
            QPalette.ColorRole.ButtonText)))
        self.grid_view.viewport().update()


def _local_paths(mime) -> list[str]:
    if not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]
