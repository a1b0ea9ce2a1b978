"""The pinned Qt binding must not leak or free references to Python singletons.

PySide6-Essentials 6.12.0 on CPython 3.11 drops a reference to None on every Qt method
that returns nothing, and the app aborts ("none_dealloc") after a few thousand calls;
requirements.txt pins a version without the bug. This fails if an upgrade brings it back.
"""

from __future__ import annotations

import subprocess
import sys


def test_void_qt_calls_keep_the_reference_count_of_none():
    code = ("import sys\n"
            "from PySide6.QtCore import QRect\n"
            "rect = QRect()\n"
            "before = sys.getrefcount(None)\n"
            "for _ in range(50_000):\n"
            "    rect.setWidth(1)\n"
            "    rect.isEmpty()\n"
            "print(sys.getrefcount(None) - before)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert abs(int(result.stdout.strip())) < 100
