"""Replaces pyinstaller-hooks-contrib's hook, which names `torchvision.image`: torchvision
0.29 has no such module but loads `image_stable.so` by path (hook-torchvision.py collects
it), so the stock hook only warns "Hidden import not found"."""

hiddenimports: list[str] = []
