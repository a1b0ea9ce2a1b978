"""Application start-up.

For now the window summarises the opened project; the library, train, evaluate and
webcam pages come with the desktop-app issue.
"""

from __future__ import annotations

import sys
from pathlib import Path


def _summary_html(stats: dict, root: Path) -> str:
    people = "".join(f"<li>{name}: {count} labelled face(s)</li>"
                     for name, count in stats["persons"].items())
    skipped = len(stats["skipped"])
    return (f"<h2>{root.name}</h2><p>{root}</p>"
            f"<p><b>{stats['photos']}</b> photos, <b>{stats['faces']}</b> faces "
            f"({stats['labeled_faces']} labelled, {stats['unlabeled_faces']} unlabelled), "
            f"{stats['no_face_photos']} photo(s) with no face found, "
            f"{skipped} file(s) skipped.</p><ul>{people}</ul>")


def run_app(argv: list[str]) -> int:
    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

    from engine.project import Project

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("FaceLab")
    window = QMainWindow()
    window.setWindowTitle("FaceLab")
    label = QLabel()
    label.setWordWrap(True)
    label.setMargin(24)
    if argv:
        with Project.open(argv[0], readonly=True) as project:
            label.setText(_summary_html(project.catalog.stats(), project.root))
    else:
        label.setText("<h2>FaceLab</h2><p>Create a project with <code>facelab new DIR</code> "
                      "and add photos with <code>facelab import DIR PHOTOS "
                      "--labels-from-folders --crop</code>, or run <code>facelab demo</code>."
                      "</p>")
    window.setCentralWidget(label)
    window.resize(720, 480)
    window.show()
    return app.exec()
