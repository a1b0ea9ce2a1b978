"""The Train page: pick architectures and settings, train (one run, or a queue of
runs that builds the scoreboard), watch the curves live, reopen or resume past runs.

The runs themselves are a :class:`~gui.models.training_queue.TrainingQueue` (jobs,
live curves, outcomes); this page is the form, the charts and the runs table around
it. Nothing here imports torch or pyqtgraph when the window starts: the
architectures load in a job, and the charts are made the first time the page shows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from PySide6.QtCore import QByteArray, QItemSelectionModel, QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QLabel, QPushButton, QScrollArea,
                               QSplitter, QVBoxLayout, QWidget)

from engine.catalog import CatalogError
from engine.catalog.runs import resume_refusal
from gui.jobs import JobHandle
from gui.jobs.training_jobs import (TrainingChoices, download_weights_files,
                                    import_weights_file, list_runs, load_training_choices,
                                    preload_charts, resume_training, train_architecture,
                                    train_automatic)
from gui.models.architectures import (ArchitectureInfo, ArchitectureListModel,
                                      missing_weights_message)
from gui.models.runs import RUN_ID_ROLE, SORT_ROLE, TEST_ACC, RunListModel, RunRow
from gui.models.training_curves import RunCurves, RunEnd, TrainingFeed
from gui.models.training_queue import QueuedRun, TrainingQueue, status_line
from gui.pages.page_context import PageContext
from gui.theme import ERROR_COLOUR, set_muted
from gui.widgets.architecture_list import ArchitectureListView
from gui.widgets.runs_table import RunsTableView
from gui.widgets.section_labels import section_heading, section_hint
from gui.widgets.training_form import TrainingSettingsForm

# dlib_face_recognition_resnet_model_v1.dat (Face ResNet) is imported as published, then converted.
WEIGHTS_FILTER = "Weights files (*.pth *.pt *.dat);;All files (*)"
IDLE_TEXT = ("No run shown. Check one architecture (or several, to compare them) and press "
             "Start, or pick a past run below to see its curves.")


@dataclass(frozen=True)
class _Pending:
    form: dict
    checked: tuple[str, ...]


class TrainPage(QWidget):
    """Signals: ``choices_loaded()``, ``runs_refreshed()``, ``run_finished(run_id)`` (a run
    ended and is in the catalog), ``queue_finished()`` (no training job left)."""

    choices_loaded = Signal()
    runs_refreshed = Signal()
    run_finished = Signal(str)
    queue_finished = Signal()

    def __init__(self, context: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session = context.session
        self._runner = context.runner
        self.choices: TrainingChoices | None = None
        self.charts = None  # TrainingCharts, created on first show (pyqtgraph is slow to import)
        self.queue = TrainingQueue(self._runner, self)
        self._shown_once = False
        self._runs_job: JobHandle | None = None
        self._download_job: JobHandle | None = None
        self._runs_stale = False
        self._pending = _Pending({}, ())
        self._shown_curves: RunCurves | None = None
        self.arch_model = ArchitectureListModel(self)
        self.runs_model = RunListModel(self)
        self.runs_proxy = QSortFilterProxyModel(self)
        self.runs_proxy.setSourceModel(self.runs_model)
        self.runs_proxy.setSortRole(SORT_ROLE)
        self.form = TrainingSettingsForm()
        self._build()
        self.queue.run_started.connect(self._on_run_started)
        self.queue.ticked.connect(self._redraw)
        self.queue.runs_changed.connect(self.refresh_runs)
        self.queue.message_posted.connect(self.show_message)
        self.queue.run_ended.connect(self._on_run_ended)
        self.queue.queue_finished.connect(self._on_queue_finished)
        self.arch_model.checked_changed.connect(self._update_buttons)
        self.form.changed.connect(self._update_buttons)
        self._update_buttons()

    # ================================================================ public API
    def start_training(self) -> list[JobHandle]:
        """Queue one run per checked architecture; returns their jobs (none if a setting
        is not usable: the reason shows in the page)."""
        problem = self._start_problem()
        if problem:
            self.show_message(problem, error=True)
            return []
        jobs = []
        for arch in self.arch_model.checked():
            feed = TrainingFeed()
            if arch.automatic:
                # The network and its epochs are known once the engine has chosen them
                # (the run's start event names them).
                curves = RunCurves(None, arch.name, 0)
                work = train_automatic(self._session.root,
                                       self.form.config_values(arch.name)["device"], feed)
            else:
                settings = tuple(sorted(self.form.config_values(arch.name).items()))
                curves = RunCurves(None, arch.name, self.form.epochs.value())
                work = train_architecture(self._session.root, settings, feed)
            jobs.append(self.queue.submit(work, arch.display_name, feed, curves))
        automatic = [a for a in self.arch_model.checked() if a.automatic]
        self.show_message(f"{len(jobs)} runs queued: they train one after another; compare "
                          "them in the table below." if len(jobs) > 1 else
                          "Automatic: " + automatic[0].description + " (of the settings, only "
                          "the device is used)" if automatic else "")
        self._show_queue()
        return jobs

    def stop_training(self) -> None:
        """Stop the running run within a batch and drop the queued ones."""
        self.queue.stop()
        self._update_status()
        self._update_buttons()

    def resume_run(self, run_id: str) -> JobHandle | None:
        """Continue a cancelled or interrupted run from its last saved epoch."""
        try:
            record = self._session.catalog.runs.get(run_id)  # the table may be a moment old
        except CatalogError as exc:  # deleted meanwhile (by `facelab` or another page)
            self.show_message(str(exc), error=True)
            return None
        refusal = resume_refusal(run_id, record.status)  # the engine's rule
        if refusal is None and self.queue.active_entry_of_run(run_id):
            refusal = f"Run {run_id} is already queued or training."
        if refusal is not None:
            self.show_message(refusal, error=True)
            return None
        feed = TrainingFeed()
        curves = self._stored_curves(run_id)
        curves.end = None
        label = self.runs_model.arch_label(record.arch)
        job = self.queue.submit(resume_training(self._session.root, run_id, feed),
                                label, feed, curves, "Resume")
        done = len(curves.epoch)
        # Say what happens and from where: a resumed run must never start unnoticed.
        self.show_message(f"Resuming {label} after epoch {done} of {curves.total_epochs}."
                          if done else f"Resuming {label}: it stopped before saving an epoch, "
                          "so it starts again from epoch 1.")
        self._show_queue()
        self._update_buttons()
        return job

    def show_run(self, run_id: str) -> None:
        """Select a run in the table: its charts show (the live ones if it is training)."""
        row = self.runs_model.row_of(run_id)
        if row is None:
            return
        index = self.runs_proxy.mapFromSource(self.runs_model.index(row, 0))
        self.runs_view.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)

    def import_weights(self, path: str) -> JobHandle:
        job = self._runner.submit(import_weights_file(path), title="Import weights")
        job.succeeded.connect(self._on_weights_imported)
        job.failed.connect(lambda message, _: self.show_message(
            f"The weights were not imported: {message}", error=True))
        return job

    def download_weights(self) -> JobHandle | None:
        """Download the published weights of the checked architectures that lack them
        (FaceLab never downloads unless asked: this is the asking). Progress and Cancel
        show in the status bar; this page's button cancels too."""
        targets = self._download_targets()
        if not targets:
            self.show_message("Check an architecture whose pretrained weights are missing "
                              "to download them.", error=True)
            return None
        job = self._runner.submit(download_weights_files(tuple(a.name for a in targets)),
                                  title="Download weights")
        self._download_job = job
        job.succeeded.connect(self._on_weights_downloaded)
        job.failed.connect(lambda message, _: self.show_message(
            f"The weights were not downloaded: {message}", error=True))
        job.cancelled.connect(lambda: self.show_message(
            "Download cancelled. “Download weights” again continues where it stopped."))
        job.finished.connect(self._on_download_finished)
        self.show_message("Downloading the " + ", ".join(a.display_name for a in targets)
                          + " weights…")
        self._update_buttons()
        return job

    def cancel_download(self) -> None:
        if self._download_job is not None:
            self._download_job.cancel()
            self._update_buttons()

    def import_weights_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import pretrained weights", "",
                                              WEIGHTS_FILTER)
        if path:
            self.import_weights(path)

    def refresh_runs(self) -> None:
        """Re-read the runs from the catalog (on a worker thread), once at a time."""
        if self._runs_job is not None:
            self._runs_stale = True
            return
        self._runs_stale = False
        job = self._runner.submit(list_runs(self._session.root), title="Read runs", quiet=True)
        job.succeeded.connect(self._on_runs_listed)
        job.finished.connect(self._on_runs_job_finished)
        self._runs_job = job

    def show_message(self, text: str, error: bool = False) -> None:
        self.message_label.setText(text)
        self.message_label.setVisible(bool(text))
        self.message_label.setStyleSheet(f"color: {ERROR_COLOUR.name()};" if error else "")

    def message_text(self) -> str:
        return "" if self.message_label.isHidden() else self.message_label.text()

    @property
    def is_training(self) -> bool:
        return self.queue.is_running

    def shutdown(self) -> None:
        self.queue.shutdown()

    def save_state(self) -> QByteArray:
        checked = [a.name for a in self.arch_model.checked()] or list(self._pending.checked)
        state = {"form": self.form.values() if self.choices else self._pending.form,
                 "checked": checked,
                 "splitter": bytes(self.splitter.saveState().toBase64()).decode(),
                 "right": bytes(self.right_splitter.saveState().toBase64()).decode(),
                 "sort": self.runs_view.sort_state()}
        return QByteArray(json.dumps(state).encode())

    def restore_state(self, blob: QByteArray) -> None:
        try:
            state = json.loads(bytes(blob).decode())
            self.splitter.restoreState(QByteArray.fromBase64(state["splitter"].encode()))
            self.right_splitter.restoreState(QByteArray.fromBase64(state["right"].encode()))
            self._pending = _Pending(dict(state.get("form", {})),
                                     tuple(state.get("checked", ())))
            self.runs_view.restore_sort_state(dict(state.get("sort", {})))
        except (ValueError, KeyError, TypeError, AttributeError):
            return  # a state from another version: the defaults will do
        self.form.set_values(self._pending.form)

    # ================================================================== building
    def _build(self) -> None:
        self.arch_view = ArchitectureListView()
        self.arch_view.setModel(self.arch_model)
        self.arch_view.setMinimumHeight(200)
        self.arch_placeholder = QLabel("Loading the architectures…")
        set_muted(self.arch_placeholder)
        self.import_button = QPushButton("Import weights…")
        self.import_button.clicked.connect(self.import_weights_dialog)
        self.download_button = QPushButton("Download weights")
        self.download_button.clicked.connect(self._download_clicked)
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start_training)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop_training)
        self.resume_button = QPushButton("Resume")
        self.resume_button.clicked.connect(self._resume_selected)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_label.hide()

        settings = QWidget()
        column = QVBoxLayout(settings)
        column.setContentsMargins(10, 8, 10, 8)
        column.addWidget(section_heading("Architectures"))
        column.addWidget(section_hint("Check one to train it; check several to train them one "
                                      "after another and compare them on the scoreboard. Face "
                                      "networks come first when their weights are here: "
                                      "learned on millions of faces, they train in seconds "
                                      "and beat anything trained from scratch."))
        column.addWidget(self.arch_placeholder)
        column.addWidget(self.arch_view, 1)
        weights_row = QHBoxLayout()
        weights_row.addWidget(self.import_button)
        weights_row.addWidget(self.download_button)
        weights_row.addStretch(1)
        column.addLayout(weights_row)
        column.addWidget(section_hint("Pretrained weights: import a file you have, or "
                                      "download the checked architectures' files (needs "
                                      "internet; nothing is fetched unless you ask)."))
        column.addSpacing(6)
        column.addWidget(section_heading("Settings"))
        column.addWidget(self.form)
        column.addStretch(0)
        scroll = QScrollArea()
        scroll.setWidget(settings)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        buttons = QHBoxLayout()
        for button in (self.start_button, self.stop_button, self.resume_button):
            buttons.addWidget(button)
        left = QWidget()
        left_column = QVBoxLayout(left)
        left_column.setContentsMargins(0, 0, 0, 8)
        left_column.addWidget(scroll, 1)
        bottom = QVBoxLayout()
        bottom.setContentsMargins(10, 0, 10, 0)
        # The message goes above the buttons: one that comes or goes shortens the
        # settings' scroll area, and Start/Stop/Resume stay where the pointer is.
        bottom.addWidget(self.message_label)
        bottom.addLayout(buttons)
        left_column.addLayout(bottom)

        self.splitter = QSplitter()
        self.splitter.addWidget(left)
        self.splitter.addWidget(self._build_right())
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([440, 840])
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

    def _build_right(self) -> QWidget:
        self.status_label = QLabel(IDLE_TEXT)
        self.status_label.setWordWrap(True)
        font = self.status_label.font()
        font.setBold(True)
        self.status_label.setFont(font)
        self.queue_label = QLabel()
        self.queue_label.setWordWrap(True)
        set_muted(self.queue_label)
        self.queue_label.hide()
        self.charts_box = QVBoxLayout()
        self.charts_box.setContentsMargins(0, 0, 0, 0)
        self.charts_placeholder = QLabel("Loading the charts…")
        self.charts_placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        set_muted(self.charts_placeholder)
        self.charts_box.addWidget(self.charts_placeholder)
        top = QWidget()
        top_column = QVBoxLayout(top)
        top_column.setContentsMargins(10, 8, 10, 0)
        top_column.addWidget(self.status_label)
        top_column.addWidget(self.queue_label)
        top_column.addLayout(self.charts_box, 1)

        self.runs_view = RunsTableView(self.runs_proxy)
        self.runs_view.selectionModel().currentRowChanged.connect(self._on_run_selected)
        # A mouse click makes the row current before it selects it: the buttons follow
        # the selection too, or Resume would stay off after a click.
        self.runs_view.selectionModel().selectionChanged.connect(
            lambda *_: self._update_buttons())
        bottom = QWidget()
        bottom_column = QVBoxLayout(bottom)
        bottom_column.setContentsMargins(10, 4, 10, 0)
        bottom_column.addWidget(section_heading("Runs"))
        bottom_column.addWidget(section_hint("Every run of this project; sort by test accuracy "
                                             "for the scoreboard. Select a run to see its "
                                             "curves."))
        bottom_column.addWidget(self.runs_view, 1)
        self.right_splitter = QSplitter(Qt.Orientation.Vertical)
        self.right_splitter.addWidget(top)
        self.right_splitter.addWidget(bottom)
        self.right_splitter.setStretchFactor(0, 3)
        self.right_splitter.setStretchFactor(1, 1)
        self.right_splitter.setSizes([560, 220])
        self.right_splitter.setChildrenCollapsible(False)
        return self.right_splitter

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            self._runner.submit(load_training_choices(), title="Load architectures",
                                quiet=True).succeeded.connect(self._on_choices_loaded)
            # pyqtgraph takes most of a second to import: on a worker thread, so the
            # window stays responsive; the widgets are then made here, at once.
            self._runner.submit(preload_charts(), title="Load charts",
                                quiet=True).finished.connect(self._create_charts)
        self.refresh_runs()

    def _create_charts(self) -> None:
        from gui.widgets.training_charts import TrainingCharts

        self.charts = TrainingCharts()
        self.charts_box.replaceWidget(self.charts_placeholder, self.charts)
        self.charts_placeholder.deleteLater()
        self.charts.show_curves(self._shown_curves)

    # ================================================================= reactions
    def _on_choices_loaded(self, choices: TrainingChoices) -> None:
        first = self.choices is None
        checked = [a.name for a in self.arch_model.checked()]
        self.choices = choices
        self.arch_model.set_architectures(choices.architectures)
        self.runs_model.set_arch_labels({a.name: a.display_name for a in choices.architectures})
        self.form.set_choices(choices.presets, choices.devices, choices.optimizers,
                              choices.class_weightings)
        if first:
            self.form.set_values(self._pending.form)
            checked = list(self._pending.checked)
        self.arch_model.set_checked(checked)
        self.arch_placeholder.hide()
        self._update_buttons()
        self.choices_loaded.emit()

    def _on_weights_imported(self, path: str) -> None:
        self.show_message(f"Weights imported: {path}")
        self._reload_choices()

    def _on_weights_downloaded(self, paths: tuple[str, ...]) -> None:
        self.show_message("Weights downloaded and verified: " + ", ".join(paths))

    def _on_download_finished(self) -> None:
        self._download_job = None
        self._update_buttons()
        # Whatever the outcome: of several architectures, the first may have arrived.
        self._reload_choices()

    def _download_clicked(self) -> None:
        if self._download_job is not None:
            self.cancel_download()
        else:
            self.download_weights()

    def _reload_choices(self) -> None:
        """Re-read the architectures: their weights status changed."""
        self._runner.submit(load_training_choices(), title="Load architectures",
                            quiet=True).succeeded.connect(self._on_choices_loaded)

    def _on_run_started(self, entry: QueuedRun) -> None:
        self._show_curves(entry.curves)
        self.runs_view.clearSelection()
        self._show_queue()

    def _redraw(self) -> None:
        if self.charts is not None:
            self.charts.redraw()
        self._update_status()

    def _on_queue_finished(self) -> None:
        if sum(e.test_accuracy is not None for e in self.queue.entries) > 1:
            self.runs_view.sortByColumn(TEST_ACC, Qt.SortOrder.DescendingOrder)  # scoreboard
        self.queue_finished.emit()

    def _on_run_ended(self, entry: QueuedRun) -> None:
        self._show_queue()
        self.refresh_runs()
        self._update_buttons()
        if entry.curves.run_id is not None:
            self.run_finished.emit(entry.curves.run_id)

    def _on_runs_listed(self, rows: tuple[RunRow, ...]) -> None:
        selected = self._selected_run_id()
        self.runs_model.set_runs(rows)
        if selected is not None and self._selected_run_id() != selected:
            self.show_run(selected)
        self._update_buttons()
        self.runs_refreshed.emit()

    def _on_runs_job_finished(self) -> None:
        self._runs_job = None
        if self._runs_stale:
            self.refresh_runs()

    def _on_run_selected(self, current, _previous) -> None:
        run_id = current.data(RUN_ID_ROLE) if current.isValid() else None
        if run_id is not None:
            live = self.queue.active_entry_of_run(run_id)
            if live is not None:
                self._show_curves(live.curves)
            else:
                self._show_curves(self._stored_curves(run_id))
        self._update_buttons()

    def _resume_selected(self) -> None:
        run_id = self._selected_run_id()
        if run_id is not None:
            self.resume_run(run_id)

    # =================================================================== helpers
    def _start_problem(self) -> str:
        if self.choices is None:
            return "The architectures are still loading; try again in a moment."
        checked = self.arch_model.checked()
        if not checked:
            return "Check at least one architecture to train."
        return missing_weights_message(checked) if self.form.wants_pretrained else ""

    def _download_targets(self) -> list[ArchitectureInfo]:
        if self.choices is None:
            return []
        return [arch for arch in self.arch_model.checked() if arch.can_download_weights]

    def _stored_curves(self, run_id: str) -> RunCurves:
        """A run's curves from the catalog: one run's rows, quick on the UI thread."""
        runs = self._session.catalog.runs
        record = runs.get(run_id)
        end = None if not record.status.finished else RunEnd(
            record.status, record.message or "", record.best_epoch, record.best_val_acc)
        return RunCurves.from_epochs(run_id, record.arch, runs.epochs(run_id),
                                     int(record.config.get("epochs", 0)), end)

    def _show_curves(self, curves: RunCurves | None) -> None:
        self._shown_curves = curves
        if self.charts is not None:
            self.charts.show_curves(curves)
        self._update_status()

    def _selected_run_id(self) -> str | None:
        index = self.runs_view.selectionModel().currentIndex()
        if not index.isValid() or not self.runs_view.selectionModel().isSelected(index):
            return None
        return index.data(RUN_ID_ROLE)

    def _update_status(self) -> None:
        curves = self._shown_curves
        self.status_label.setText(IDLE_TEXT if curves is None else status_line(
            curves, self.runs_model.arch_label(curves.arch), self.queue.entry_of(curves)))

    def _show_queue(self) -> None:
        self.queue_label.setVisible(len(self.queue.entries) > 1)
        self.queue_label.setText("Queue: " + self.queue.summary())

    def _update_buttons(self) -> None:
        training = self.is_training
        self.start_button.setEnabled(self.choices is not None and bool(self.arch_model.checked()))
        self.start_button.setText("Add to queue" if training else
                                  "Start" if len(self.arch_model.checked()) < 2 else
                                  f"Start {len(self.arch_model.checked())} runs")
        self.stop_button.setEnabled(self.queue.can_stop)
        run_id = self._selected_run_id()
        row = self.runs_model.row_of(run_id) if run_id else None
        self.resume_button.setEnabled(row is not None and self.runs_model.run(row).resumable)
        self.import_button.setEnabled(self.choices is not None)
        self._update_download_button()

    def _update_download_button(self) -> None:
        job = self._download_job
        if job is not None:
            cancelling = job.is_cancel_requested
            self.download_button.setText("Cancelling…" if cancelling else "Cancel download")
            self.download_button.setEnabled(not cancelling)
            self.download_button.setToolTip("Stop the download; what arrived is kept, and "
                                            "the next download continues from there.")
            return
        targets = self._download_targets()
        self.download_button.setText("Download weights")
        self.download_button.setEnabled(bool(targets))
        self.download_button.setToolTip(
            "Download the published weights of " + ", ".join(a.display_name for a in targets)
            + " from their official address (needs internet; proxies from HTTP(S)_PROXY)."
            if targets else "Check an architecture whose pretrained weights are missing "
            "(torchvision's or FaceNet's) to download them.")

