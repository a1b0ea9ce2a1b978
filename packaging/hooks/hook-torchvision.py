"""Replaces pyinstaller-hooks-contrib's hook-torchvision.py (a hook here takes priority).

torchvision loads its native ops (`_C_stable.so` since 0.29, `_C.so` before) and image
codecs (`image_stable.so`) by file path from its package folder, so the import analysis
never sees them; the stock hook only names `torchvision._C`, which 0.29 no longer has.
Without the ops library torchvision imports fine but `nms` is missing, and MTCNN fails
at the first photo. Collecting every shared library of the package puts them where
`torchvision.extension` looks; their own dependencies (torchvision.libs) follow by the
binary analysis.
"""

from PyInstaller.utils.hooks import collect_dynamic_libs

# The default patterns look for lib*.so only; these libraries are named like extension modules.
binaries = collect_dynamic_libs("torchvision", search_patterns=["*.so", "*.pyd", "*.dylib"])
# As the stock hook: the .py sources too, for TorchScript.
module_collection_mode = "pyz+py"
