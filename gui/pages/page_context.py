"""What a page is given: the open project's session, the job runner and the settings.
Never the main window (pages talk back through their own signals)."""

from __future__ import annotations

from dataclasses import dataclass

from gui.jobs import JobRunner
from gui.project_session import ProjectSession
from gui.settings import AppSettings


@dataclass(frozen=True)
class PageContext:
    session: ProjectSession
    runner: JobRunner
    settings: AppSettings
