"""The main window's pages: library now; train, evaluate and webcam to come."""
