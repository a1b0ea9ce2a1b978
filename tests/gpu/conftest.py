# The trainer tests' tiny registered architecture, reused by the CUDA tests.
from tests.engine.training.conftest import tiny_arch  # noqa: F401
