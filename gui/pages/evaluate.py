"""The Evaluate page: how good is a run, where does it go wrong, and which labels
are wrong to begin with.

For the chosen run: the metrics table (accuracy with its 95% interval, macro and
per-person precision/recall/F1), the confusion matrix (a click shows exactly that
cell's faces), the error gallery (mistakes and unsure predictions, Grad-CAM on
demand, relabel in place), the scoreboard of the runs on the same split, the
label-mistake finder, model export and the HTML lab report. Every long step is a
job; this page only shows results and starts steps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QEvent, QMetaMethod, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QHeaderView, QLabel, QMenu,
                               QPushButton, QScrollArea, QSplitter, QStyle, QTableView,
                               QTabWidget, QVBoxLayout, QWidget)

from gui.jobs import JobHandle
from gui.jobs import evaluation_jobs as jobs
from gui.models.error_gallery import ErrorGalleryModel
from gui.models.evaluation import (ACCURACY_COLUMN, ConfusionMatrixModel, MetricsTableModel,
                                   format_interval)
from gui.models.gradcam_cache import GradCamCache
from gui.models.label_issues import LabelIssueModel
from gui.models.thumbnails import ThumbnailCache, placeholder_pixmap
from gui.pages.page_context import PageContext
from gui.theme import set_muted
from gui.widgets.confusion_heatmap import ConfusionHeatmap
from gui.widgets.error_gallery import TILE, ErrorGalleryPanel
from gui.widgets.label_issues import THUMB as ISSUE_THUMB
from gui.widgets.label_issues import LabelIssuePanel
from gui.widgets.message_banner import MessageBanner, open_file
from gui.widgets.run_picker import RunPicker, run_choices

if TYPE_CHECKING:
    from engine.evaluation.metrics import EvaluationReport
    from gui.widgets.scoreboard_chart import ScoreboardChart

RESULTS_TAB, SCOREBOARD_TAB, LABELS_TAB = range(3)
PERSON_COLUMN_MAX = 170  # the metrics table's person column; longer names elide
EXPORT_FILTERS = {"onnx": "ONNX model (*.onnx)", "torchscript": "TorchScript model (*.pt)"}


class EvaluatePage(QWidget):
    """Signals: ``library_review_requested(title, face_ids)`` (connect it to
    ``LibraryPage.show_face_set``), ``info_posted(text, details)``,
    ``results_shown(run_id)`` once a run's results are on screen."""

    library_review_requested = Signal(str, list)
    info_posted = Signal(str, str)
    results_shown = Signal(str)

    def __init__(self, context: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session = context.session
        self._runner = context.runner
        self.report: EvaluationReport | None = None
        self.scoreboard_rows: tuple = ()
        self._jobs: dict[str, JobHandle] = {}  # kind -> running job
        self._loading_run: str | None = None
        self._shown_run: str | None = None
        # The project changed (import, relabel, persons) since the shown results were
        # read: their notes (an older test set, persons not covered) may be out of date.
        self._results_outdated = False
        self.scoreboard_chart: ScoreboardChart | None = None

        self.thumbnails = ThumbnailCache(TILE, parent=self)
        self.issue_thumbnails = ThumbnailCache(ISSUE_THUMB, parent=self)
        self.gradcams = GradCamCache(self._runner, self._session.root, self)
        catalog = self._session.catalog
        self.metrics_model = MetricsTableModel(self)
        self.confusion_model = ConfusionMatrixModel(self)
        self.gallery_model = ErrorGalleryModel(catalog, self.thumbnails, self.gradcams, self)
        self.issues_model = LabelIssueModel(catalog, self.issue_thumbnails, self)
        self.banner = MessageBanner()
        self.run_picker = RunPicker()
        self.heatmap = ConfusionHeatmap(self.confusion_model)
        self.gallery = ErrorGalleryPanel(self.gallery_model)
        self.issues_panel = LabelIssuePanel(self.issues_model)
        self._build_layout()
        self._connect()
        self._on_persons_changed()
        self._update_pictures()
        self.issues_model.reload()
        self._show_results(None)
        self.refresh_runs()

    # ------------------------------------------------------------ public API
    @property
    def current_run_id(self) -> str | None:
        return self.run_picker.current_run_id()

    @property
    def results_loaded(self) -> bool:
        """The chosen run's results (or its "not evaluated" state) are on screen."""
        return self.current_run_id is not None and self._shown_run == self.current_run_id

    def refresh_runs(self) -> None:
        """Re-read the project's runs (a run finished training, or was evaluated, since)."""
        before = self.run_picker.choice(self.current_run_id)
        self.run_picker.set_choices(run_choices(self._session.catalog, self._session.root))
        run_id = self.current_run_id
        # The shown run's evaluation changed elsewhere (the training job evaluates a run
        # after its last epoch): read it again.
        changed = before is not None and before.run_id == run_id and \
            self.run_picker.choice(run_id) != before
        if run_id is not None and (changed or run_id not in (self._shown_run,
                                                             self._loading_run)):
            self.load_run(run_id)
        self._update_buttons()

    def select_run(self, run_id: str) -> None:
        self.run_picker.select_run(run_id)

    def load_run(self, run_id: str) -> JobHandle:
        """Read the run's stored report and its scoreboard (a quiet job). Another run's
        results leave the screen at once: they must never show under this run's name."""
        self._loading_run = run_id
        self._results_outdated = False
        self.gradcams.set_run(run_id)
        if self._shown_run != run_id:
            self._show_unavailable(run_id, "Reading the results…", "")
        job = self._runner.submit(jobs.load_run_results(self._session.root, run_id),
                                  title="Reading the run's results", quiet=True)
        job.succeeded.connect(self._on_results)
        job.failed.connect(lambda message, details: self._on_load_failed(run_id, message,
                                                                        details))
        return job

    def evaluate_current(self) -> JobHandle | None:
        run_id = self.current_run_id
        if run_id is None or "evaluate" in self._jobs:
            return None
        choice = self.run_picker.choice(run_id)
        job = self._start("evaluate", jobs.evaluate(self._session.root, run_id),
                          f"Evaluating {choice.arch if choice else run_id}", gpu=True)
        job.succeeded.connect(self._on_evaluated)
        job.failed.connect(lambda message, details: self._on_evaluate_failed(
            run_id, message, details))
        return job

    def export_model(self, file_format: str, out_path: str) -> JobHandle | None:
        run_id = self.current_run_id
        if run_id is None:
            return None
        job = self._start("export", jobs.export_model(self._session.root, run_id, file_format,
                                                      out_path), f"Exporting {file_format}")
        job.succeeded.connect(self._on_exported)
        return job

    def write_lab_report(self, out_path: str) -> JobHandle | None:
        run_id = self.current_run_id
        if run_id is None:
            return None
        job = self._start("report", jobs.lab_report(self._session.root, run_id, out_path),
                          "Writing the lab report")
        job.succeeded.connect(lambda path: self._post_info(
            f"Lab report written to {path}.", action=("Open", lambda: open_file(path))))
        return job

    def find_suspicious_labels(self) -> JobHandle | None:
        if "mistakes" in self._jobs:
            return None
        self.issues_panel.set_busy(True, "Cross-validating every labelled face…")
        job = self._start("mistakes", jobs.find_mistakes(self._session.root),
                          "Finding suspicious labels")
        job.succeeded.connect(self._on_mistakes_found)
        job.finished.connect(lambda: self.issues_panel.set_busy(False))
        return job

    def show_cell(self, true_person: str, predicted_person: str) -> None:
        """What a click on a confusion cell does: exactly its samples in the gallery."""
        self.heatmap.select_cell(true_person, predicted_person)
        self.gallery.show_cell(true_person, predicted_person)

    def show_tab(self, tab: int) -> None:
        self.tabs.setCurrentIndex(tab)

    def ensure_scoreboard_chart(self) -> ScoreboardChart:
        """Build the chart on first use: importing pyqtgraph takes a moment."""
        if self.scoreboard_chart is None:
            from gui.widgets.scoreboard_chart import ScoreboardChart

            self.scoreboard_chart = ScoreboardChart()
            self.scoreboard_chart.run_clicked.connect(self.select_run)
            self._scoreboard_layout.addWidget(self.scoreboard_chart, 1)
            self.scoreboard_chart.set_rows(self.scoreboard_rows, self.current_run_id)
        return self.scoreboard_chart

    def shutdown(self) -> None:
        self.gradcams.cancel_pending()
        self.thumbnails.loader.wait_for_done()
        self.issue_thumbnails.loader.wait_for_done()

    def save_state(self) -> QByteArray:
        return self.splitter.saveState()

    def restore_state(self, state: QByteArray) -> None:
        self.splitter.restoreState(state)

    # ------------------------------------------------------------- building
    def _build_layout(self) -> None:
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.setToolTip("Score the run's best model on its test faces")
        self.run_status = QLabel()
        set_muted(self.run_status)
        self.export_button = QPushButton("Export model")
        self.export_button.setToolTip("Save the run's best model as ONNX or TorchScript, "
                                      "verified against the original")
        export_menu = QMenu(self.export_button)
        export_menu.addAction("ONNX…", lambda: self.export_dialog("onnx"))
        export_menu.addAction("TorchScript…", lambda: self.export_dialog("torchscript"))
        self.export_button.setMenu(export_menu)
        self.report_button = QPushButton("Lab report…")
        self.report_button.setToolTip("Write one HTML file with everything the lab asks "
                                      "for: metrics, confusion matrix, curves, samples")
        header = QHBoxLayout()
        header.setContentsMargins(10, 8, 10, 4)
        header.addWidget(QLabel("Run"))
        header.addWidget(self.run_picker)
        header.addWidget(self.evaluate_button)
        header.addWidget(self.run_status, 1)
        header.addWidget(self.export_button)
        header.addWidget(self.report_button)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self._results_tab(), "Results")
        scoreboard = QWidget()
        self._scoreboard_layout = QVBoxLayout(scoreboard)
        self.scoreboard_hint = QLabel("Accuracy, precision, recall and F1 (macro averages) of "
                                      "every evaluated run scored on the same test faces as "
                                      "this run. Click a run's bars to show it.")
        self.scoreboard_hint.setWordWrap(True)
        set_muted(self.scoreboard_hint)
        self.not_comparable_label = QLabel()
        self.not_comparable_label.setWordWrap(True)
        self.not_comparable_label.setTextFormat(Qt.TextFormat.PlainText)
        self._scoreboard_layout.addWidget(self.scoreboard_hint)
        self._scoreboard_layout.addWidget(self.not_comparable_label)
        self.tabs.addTab(scoreboard, "Scoreboard")
        issues = QWidget()
        issues_layout = QVBoxLayout(issues)
        issues_layout.setContentsMargins(10, 8, 10, 10)
        issues_layout.addWidget(self.issues_panel)
        self.tabs.addTab(issues, "Suspicious labels")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addWidget(self.tabs, 1)
        self.banner.float_over(self)  # the tables under it stay put as messages come and go

    def _results_tab(self) -> QWidget:
        self.accuracy_label = QLabel()
        font = self.accuracy_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        self.accuracy_label.setFont(font)
        self.accuracy_detail = QLabel()
        self.accuracy_detail.setWordWrap(True)
        set_muted(self.accuracy_detail)
        # What the shown numbers do not cover: an evaluation older than the test set,
        # persons the run never learned or that are gone.
        self.scope_note = QLabel()
        self.scope_note.setWordWrap(True)
        self.scope_note.setTextFormat(Qt.TextFormat.PlainText)
        self.scope_note.hide()
        self.metrics_table = QTableView()
        self.metrics_table.setModel(self.metrics_model)
        self.metrics_table.verticalHeader().hide()
        self.metrics_table.setAlternatingRowColors(True)
        self.metrics_table.setSelectionMode(QTableView.SelectionMode.NoSelection)
        header = self.metrics_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(76)  # the accuracy row spans three of them
        self.metrics_table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.metrics_table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.metrics_table.verticalHeader().setDefaultSectionSize(24)
        confusion_title = QLabel("Confusion matrix")
        confusion_title.setFont(self._bold())
        confusion_hint = QLabel("Click a cell to see its faces in the gallery.")
        set_muted(confusion_hint)
        column = QWidget()
        inner = QVBoxLayout(column)
        inner.setContentsMargins(10, 6, 10, 10)
        inner.addWidget(self.accuracy_label)
        inner.addWidget(self.accuracy_detail)
        inner.addWidget(self.scope_note)
        inner.addWidget(self.metrics_table)
        inner.addSpacing(8)
        inner.addWidget(confusion_title)
        inner.addWidget(confusion_hint)
        inner.addWidget(self.heatmap)
        inner.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(column)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.results_scroll = scroll
        gallery_box = QWidget()
        gallery_layout = QVBoxLayout(gallery_box)
        gallery_layout.setContentsMargins(6, 6, 10, 10)
        gallery_layout.addWidget(self.gallery)
        self.splitter = QSplitter()
        self.splitter.addWidget(scroll)
        self.splitter.addWidget(gallery_box)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([520, 700])
        self.splitter.setChildrenCollapsible(False)
        return self.splitter

    def _bold(self):
        font = self.font()
        font.setBold(True)
        return font

    def _connect(self) -> None:
        session = self._session
        session.labels_changed.connect(lambda change: self.gallery_model.refresh_faces(
            change.face_ids))
        session.labels_changed.connect(lambda change: self.issues_model.reconcile_labels(
            change.face_ids))
        self.issues_model.verdict_changed.connect(session.notify_label_issues_changed)
        session.persons_changed.connect(self._on_persons_changed)
        for signal in (session.labels_changed, session.persons_changed, session.faces_changed):
            signal.connect(self._mark_results_outdated)
        self.run_picker.run_chosen.connect(self.load_run)
        self.evaluate_button.clicked.connect(self.evaluate_current)
        self.report_button.clicked.connect(self.report_dialog)
        self.heatmap.cell_clicked.connect(self.show_cell)
        self.gallery.relabel_requested.connect(self._relabel)
        self.gallery.library_requested.connect(self._request_library)
        self.gallery.mode_changed.connect(lambda _mode: self.heatmap.clear_selection())
        self.gradcams.overlay_failed.connect(self._on_gradcam_failed)
        self.issues_panel.find_requested.connect(self.find_suspicious_labels)
        self.issues_panel.verdicts_given.connect(self._apply_verdicts)
        self.tabs.currentChanged.connect(self._on_tab_changed)

    # -------------------------------------------------------------- dialogs
    def export_dialog(self, file_format: str) -> None:
        choice = self.run_picker.choice(self.current_run_id)
        if choice is None:
            return
        suffix = ".onnx" if file_format == "onnx" else ".pt"
        path, _ = QFileDialog.getSaveFileName(self, f"Export {choice.arch} as {file_format}",
                                              f"{choice.arch}{suffix}",
                                              EXPORT_FILTERS[file_format])
        if path:
            self.export_model(file_format, path)

    def report_dialog(self) -> None:
        choice = self.run_picker.choice(self.current_run_id)
        if choice is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save the lab report",
                                              f"lab-report-{choice.arch}.html",
                                              "Web page (*.html)")
        if path:
            self.write_lab_report(path)

    # ------------------------------------------------------------- reactions
    def _start(self, kind: str, fn, title: str, gpu: bool = False) -> JobHandle:
        job = self._runner.submit(fn, title=title, gpu=gpu)
        self._jobs[kind] = job
        job.finished.connect(lambda: self._job_ended(kind, job))
        self._update_buttons()
        return job

    def _job_ended(self, kind: str, job: JobHandle) -> None:
        if self._jobs.get(kind) is job:
            del self._jobs[kind]
        self._update_buttons()

    def _on_results(self, results: jobs.RunResults) -> None:
        if self._loading_run == results.run_id:
            self._loading_run = None
        if results.run_id == self.current_run_id:  # else the user chose another run meanwhile
            self._show_results(results)

    def _on_load_failed(self, run_id: str, message: str, details: str) -> None:
        if self._loading_run == run_id:
            self._loading_run = None
        if run_id == self.current_run_id:
            self._show_unavailable(run_id, "Could not read this run's results", message)
            self.banner.show_error(f"Could not read the results of {run_id}: {message}", details)

    def _on_evaluate_failed(self, run_id: str, message: str, details: str) -> None:
        if run_id != self.current_run_id:
            return
        if self._shown_run != run_id:  # whatever is on screen is not this run's
            self._show_unavailable(run_id, "Evaluating failed", message)
        self.banner.show_error(f"Evaluating {run_id} failed: {message}", details)

    def _on_evaluated(self, results: jobs.RunResults) -> None:
        self.run_picker.set_choices(run_choices(self._session.catalog, self._session.root))
        if results.run_id == self.current_run_id:
            self._show_results(results)

    def _show_unavailable(self, run_id: str, headline: str, detail: str) -> None:
        """No results on screen for ``run_id`` (loading, or they could not be read)."""
        from engine.evaluation.scoreboard import Standings

        self._show_results(jobs.RunResults(run_id, None, Standings(run_id, (), ())),
                           announce=False)
        self._shown_run = None  # nothing of this run is shown yet
        self.accuracy_label.setText(headline)
        self.accuracy_detail.setText(detail)
        self.run_status.setText("")

    def _show_results(self, results: jobs.RunResults | None, announce: bool = True) -> None:
        report = results.report if results else None
        self.report = report
        self._shown_run = results.run_id if results else None
        self.scoreboard_rows = results.scoreboard if results else ()
        self._show_notes(results)
        self.metrics_model.set_report(report)
        self.metrics_table.clearSpans()
        if self.metrics_model.accuracy_row() is not None:
            self.metrics_table.setSpan(self.metrics_model.accuracy_row(), ACCURACY_COLUMN, 1, 3)
        self.confusion_model.set_report(report)
        self.gallery.set_report(report)
        self._fit_metrics_table()
        if report is not None:
            self.accuracy_label.setText(f"Accuracy {report.accuracy:.1%}")
            self.accuracy_detail.setText(
                f"{format_interval(report)} · {len(report.samples)} test faces · "
                f"{len(report.persons)} persons")
        elif self.current_run_id is None:
            self.accuracy_label.setText("No trained run yet")
            self.accuracy_detail.setText("Train a model on the Train page; its results show "
                                         "here.")
        else:
            self.accuracy_label.setText("Not evaluated yet" if results else "")
            self.accuracy_detail.setText("Press Evaluate to score this run's best model on "
                                         "its test faces." if results else "")
        if self.scoreboard_chart is not None:
            self.scoreboard_chart.set_rows(self.scoreboard_rows, self.current_run_id)
        self._update_buttons()
        if results is not None and announce:
            self.results_shown.emit(results.run_id)

    def _show_notes(self, results: jobs.RunResults | None) -> None:
        messages = results.messages if results else ()
        self.scope_note.setText("\n".join(f"⚠ {m}" for m in messages))
        self.scope_note.setVisible(bool(messages))
        left_out = results.standings.not_comparable if results else ()
        self.not_comparable_label.setText(
            "Not ranked with this run (their accuracies were measured on other test faces):\n"
            + "\n".join(f"• {n.label} {n.run_id} ({n.accuracy:.1%}): {n.reason}"
                        for n in left_out) if left_out else "")
        self.not_comparable_label.setVisible(bool(left_out))

    def _fit_metrics_table(self) -> None:
        table = self.metrics_table
        rows = self.metrics_model.rowCount()
        height = table.horizontalHeader().sizeHint().height() + \
            rows * table.verticalHeader().defaultSectionSize() + 2 * table.frameWidth() + 2
        table.setFixedHeight(height if rows else table.horizontalHeader().sizeHint().height() + 4)
        # Every column in view (Support was cut off in a small window): the table is as
        # wide as its columns, and the results column never narrower than the table.
        header = table.horizontalHeader()
        widths = [max(header.sectionSizeHint(column), table.sizeHintForColumn(column),
                      header.minimumSectionSize())
                  for column in range(self.metrics_model.columnCount())]
        if widths:
            widths[0] = min(widths[0], PERSON_COLUMN_MAX)  # longer names elide
        table.setMinimumWidth(sum(widths) + 2 * table.frameWidth() + 2)
        scroll_bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        self.results_scroll.setMinimumWidth(
            self.results_scroll.widget().minimumSizeHint().width() + scroll_bar + 2)

    def _update_buttons(self) -> None:
        has_run = self.current_run_id is not None
        evaluating = "evaluate" in self._jobs
        self.evaluate_button.setEnabled(has_run and not evaluating)
        self.evaluate_button.setText("Evaluating…" if evaluating else
                                     "Re-evaluate" if self.report is not None else "Evaluate")
        self.export_button.setEnabled(has_run and "export" not in self._jobs)
        self.report_button.setEnabled(has_run and "report" not in self._jobs)
        choice = self.run_picker.choice(self.current_run_id)
        self.run_status.setText(
            "" if choice is None else
            f"{len(self.report.samples)} test faces" if self.report is not None else
            "not evaluated yet")

    def _mark_results_outdated(self, *_args) -> None:
        self._results_outdated = True

    def _on_persons_changed(self) -> None:
        rows = self._session.person_rows()
        names = {row.id: row.name for row in rows}
        self.gallery_model.set_person_names(names)
        self.issues_model.set_person_names(names)
        self.gallery.set_persons([(row.id, row.name) for row in rows])

    def _relabel(self, face_ids: list, person_id: int) -> None:
        self._session.label_faces(face_ids, person_id)

    def _request_library(self, title: str, face_ids: list) -> None:
        choice = self.run_picker.choice(self.current_run_id)
        suffix = f" ({choice.arch}, {choice.started_text})" if choice else ""
        self.library_review_requested.emit(title + suffix, list(face_ids))

    def _apply_verdicts(self, face_ids: list, status: str) -> None:
        if status == "accepted":
            by_person: dict[int, list[int]] = {}
            for face_id in face_ids:
                issue = self.issues_model.issue(self.issues_model.row_of(face_id))
                if issue.suggested_person_id is not None:
                    by_person.setdefault(issue.suggested_person_id, []).append(face_id)
            for person_id, ids in by_person.items():
                if self._session.label_faces(ids, person_id) is None:
                    return  # the session said why; the verdicts stay open
        for face_id in face_ids:
            self.issues_model.set_status(face_id, status)

    def _on_mistakes_found(self, count: int) -> None:
        self.issues_model.reload()
        self._session.notify_label_issues_changed()
        self._post_info(f"{count} suspicious label(s) found." if count else
                        "No suspicious labels found: the labels look consistent.")

    def _on_exported(self, export) -> None:
        model = export.model
        self._post_info(f"Model exported to {model.path} ({model.format}, verified: outputs "
                        f"match within {model.max_abs_diff:.1e}); its persons and preprocessing "
                        f"are in {export.sidecar.name}.")

    def _on_gradcam_failed(self, face_id: int, message: str) -> None:
        if self.banner.kind != "error" or not self.banner.isVisible():
            self.banner.show_error(f"Grad-CAM failed for face {face_id}: {message}")

    def _post_info(self, text: str, details: str = "", action=None) -> None:
        self.banner.show_info(text, details, action)
        self.info_posted.emit(text, details)  # for tests and listeners; the page shows it

    def _on_tab_changed(self, index: int) -> None:
        if index == SCOREBOARD_TAB:
            self.ensure_scoreboard_chart()
        elif index == LABELS_TAB:
            self.issues_panel.table.setFocus()

    # ------------------------------------------------------- palette, DPI
    def showEvent(self, event) -> None:
        super().showEvent(event)
        # "Show in Library" only where someone listens (the window connects the signal).
        self.gallery.library_button.setVisible(self.isSignalConnected(
            QMetaMethod.fromSignal(self.library_review_requested)))
        self._update_pictures()
        self.refresh_runs()  # a run may have finished training while another page showed
        if self._results_outdated and self.current_run_id is not None and \
                self._loading_run is None:
            # Read again on showing, not while shown: a relabel in this page's gallery
            # must not reset the gallery under the pointer.
            self.load_run(self.current_run_id)

    def event(self, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.DevicePixelRatioChange, QEvent.Type.PaletteChange):
            self._update_pictures()
        if event.type() == QEvent.Type.PaletteChange and self.banner.isVisible():
            # The banner tints itself from the palette when shown: tint it again.
            if self.banner.kind == "error":
                self.banner.show_error(self.banner.text(), self.banner.details)
            else:
                self.banner.show_info(self.banner.text(), self.banner.details,
                                      self.banner.action)
        return super().event(event)

    def _update_pictures(self) -> None:
        ratio = self.devicePixelRatioF()
        colour = self.palette().color(QPalette.ColorRole.Text)
        for cache, model, size in ((self.thumbnails, self.gallery_model, TILE),
                                   (self.issue_thumbnails, self.issues_model, ISSUE_THUMB)):
            cache.set_device_pixel_ratio(ratio)
            model.set_placeholder(placeholder_pixmap(size, ratio, colour))
