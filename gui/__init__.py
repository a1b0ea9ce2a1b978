"""FaceLab's desktop app (PySide6). Shows the engine's loop and starts its steps."""
