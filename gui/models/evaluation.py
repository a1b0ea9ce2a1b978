"""Item models over one run's :class:`EvaluationReport`: the metrics table and the
confusion matrix. Both are read-only views of an immutable report; ``set_report``
swaps the whole report (a model reset)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QFont

if TYPE_CHECKING:
    from engine.evaluation.metrics import EvaluationReport

_Index = QModelIndex | QPersistentModelIndex

# The metrics table follows sklearn's classification_report, which students know from
# their notebooks: one row per person, then accuracy (with its 95% interval, in column 1,
# which the view spans over the three metric columns) and the macro average.
ACCURACY_COLUMN = 1
METRIC_COLUMNS = ("Person", "Precision", "Recall", "F1", "Support")
ROW_KIND_ROLE = Qt.ItemDataRole.UserRole + 1   # "person" | "accuracy" | "macro"
VALUE_ROLE = Qt.ItemDataRole.UserRole + 2      # the raw number of a cell
TRUE_PERSON_ROLE = Qt.ItemDataRole.UserRole + 3
PREDICTED_PERSON_ROLE = Qt.ItemDataRole.UserRole + 4

# Heatmap colours: the view's background -> blue for the diagonal (right), -> red
# elsewhere (wrong); white on a light theme, the dark base on a dark one.
_RIGHT = QColor(52, 114, 196)
_WRONG = QColor(205, 70, 60)
_WHITE = QColor(255, 255, 255)


def format_interval(report: EvaluationReport) -> str:
    low, high = report.accuracy_ci
    return f"95% CI {low:.1%} – {high:.1%}"


class MetricsTableModel(QAbstractTableModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._report: EvaluationReport | None = None
        self._persons: list[str] = []

    def set_report(self, report: EvaluationReport | None) -> None:
        self.beginResetModel()
        self._report = report
        self._persons = list(report.per_person) if report else []
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        if parent.isValid() or self._report is None:
            return 0
        return len(self._persons) + 2

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(METRIC_COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole \
                and 0 <= section < len(METRIC_COLUMNS):
            return METRIC_COLUMNS[section]
        return None

    def accuracy_row(self) -> int | None:
        return len(self._persons) if self._report is not None else None

    def row_kind(self, row: int) -> str:
        if row < len(self._persons):
            return "person"
        return "accuracy" if row == len(self._persons) else "macro"

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        report = self._report
        if report is None or not index.isValid() or not 0 <= index.row() < self.rowCount():
            return None
        row, column = index.row(), index.column()
        kind = self.row_kind(row)
        if role == ROW_KIND_ROLE:
            return kind
        value = self._value(report, kind, row, column)
        if role == VALUE_ROLE:
            return value
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0 or value is None:
                return value
            if isinstance(value, int):
                return str(value)
            if kind == "accuracy":
                return f"{report.accuracy:.1%}  ({format_interval(report)})"
            return f"{value:.3f}"
        if role == Qt.ItemDataRole.TextAlignmentRole:
            horizontal = Qt.AlignmentFlag.AlignLeft if column == 0 else \
                Qt.AlignmentFlag.AlignHCenter if kind == "accuracy" and column == 1 else \
                Qt.AlignmentFlag.AlignRight
            return int(horizontal | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole and kind != "person":
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(kind, column)
        return None

    def _value(self, report: EvaluationReport, kind: str, row: int, column: int):
        total = sum(m.support for m in report.per_person.values())
        if kind == "person":
            name = self._persons[row]
            metrics = report.per_person[name]
            return (name, metrics.precision, metrics.recall, metrics.f1, metrics.support)[column]
        if kind == "accuracy":  # the view spans column 1 over the three metric columns
            return ("Accuracy", report.accuracy, None, None, total)[column]
        return ("Macro average", report.macro_precision, report.macro_recall, report.macro_f1,
                total)[column]

    @staticmethod
    def _tooltip(kind: str, column: int) -> str | None:
        if kind == "accuracy":
            return ("Share of test faces named correctly. The interval is a bootstrap 95% "
                    "interval: with few test faces it is wide.")
        return {1: "Of the faces predicted as this person, the share that really are",
                2: "Of this person's test faces, the share the model found",
                3: "Harmonic mean of precision and recall",
                4: "Test faces of this person"}.get(column)


class ConfusionMatrixModel(QAbstractTableModel):
    """Rows: the true person; columns: the predicted person; cells: counts, coloured by
    their share of the row (so a person with few test faces shows as clearly)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._persons: tuple[str, ...] = ()
        self._counts: tuple[tuple[int, ...], ...] = ()
        self._row_totals: list[int] = []
        # base, text and faint text (zero counts): the view's palette sets them
        self._colours = (_WHITE, QColor(30, 30, 30), QColor(170, 170, 170))

    def set_palette_colours(self, base: QColor, text: QColor, faint: QColor) -> None:
        """Blend the cells from the view's background, so a dark theme has dark cells."""
        if (base, text, faint) == self._colours:
            return
        self._colours = (QColor(base), QColor(text), QColor(faint))
        if self._persons:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._persons) - 1,
                                                               len(self._persons) - 1))

    def set_report(self, report: EvaluationReport | None) -> None:
        self.beginResetModel()
        self._persons = report.persons if report else ()
        self._counts = report.confusion_matrix if report else ()
        self._row_totals = [sum(row) for row in self._counts]
        self.endResetModel()

    def persons(self) -> tuple[str, ...]:
        return self._persons

    def cell_of(self, true_person: str, predicted_person: str) -> QModelIndex:
        return self.index(self._persons.index(true_person), self._persons.index(predicted_person))

    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._persons)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._persons)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole):
        if not 0 <= section < len(self._persons):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._persons[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            kind = "True" if orientation == Qt.Orientation.Vertical else "Predicted"
            return f"{kind} person: {self._persons[section]}"
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not (0 <= index.row() < len(self._persons)
                                       and 0 <= index.column() < len(self._persons)):
            return None
        row, column = index.row(), index.column()
        count = self._counts[row][column]
        share = count / self._row_totals[row] if self._row_totals[row] else 0.0
        if role == Qt.ItemDataRole.DisplayRole:
            return str(count)
        if role == VALUE_ROLE:
            return count
        base, text, faint = self._colours
        if role == Qt.ItemDataRole.BackgroundRole:
            return _blend(base, _RIGHT if row == column else _WRONG, share)
        if role == Qt.ItemDataRole.ForegroundRole:
            return QColor("white") if share > 0.55 else text if count else faint
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            true, predicted = self._persons[row], self._persons[column]
            verb = "correctly named" if row == column else f"predicted as {predicted}"
            return (f"{count} of {self._row_totals[row]} test faces of {true} {verb} "
                    f"({share:.0%}). Click to see them.")
        if role == TRUE_PERSON_ROLE:
            return self._persons[row]
        if role == PREDICTED_PERSON_ROLE:
            return self._persons[column]
        return None


def _blend(base: QColor, tint: QColor, amount: float) -> QColor:
    amount = max(0.0, min(1.0, amount))
    return QColor(round(base.red() + (tint.red() - base.red()) * amount),
                  round(base.green() + (tint.green() - base.green()) * amount),
                  round(base.blue() + (tint.blue() - base.blue()) * amount))
