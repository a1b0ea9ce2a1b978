"""Shared pieces of the reliability tests: a tiny registered architecture, and projects
of labelled synthetic faces built through the catalog API (seconds, no detector)."""

from __future__ import annotations

import pytest

from tests.reliability.synthetic import TINY_ARCH, register_tiny_arch


@pytest.fixture(scope="session")
def tiny_arch():
    import engine.models as models

    register_tiny_arch()
    yield TINY_ARCH
    models.unregister_architecture(TINY_ARCH)


@pytest.fixture(scope="session")
def forkserver(tmp_path_factory):
    """Forks the processes the crash tests kill, with torch already imported."""
    from tests.reliability.processes import ForkServer

    server = ForkServer(tmp_path_factory.mktemp("forkserver") / "server.log")
    yield server
    server.close()
