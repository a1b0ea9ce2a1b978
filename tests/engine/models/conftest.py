"""The weights tests use `weights_home` (tests/conftest.py): every weights folder in
tmp_path, away from the real caches of this machine."""
