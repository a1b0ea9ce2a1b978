"""Reusable widgets: the grid view and its delegate, panels, dialogs, status bar."""
