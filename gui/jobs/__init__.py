"""Long work off the UI thread: the one job runner (see runner.py)."""

from gui.jobs.runner import JobFunction, JobHandle, JobRunner, JobState, readable_error

__all__ = ["JobFunction", "JobHandle", "JobRunner", "JobState", "readable_error"]
