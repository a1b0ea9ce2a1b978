"""facenet-pytorch reads MTCNN's weights (data/pnet.pt, rnet.pt, onet.pt) from files next
to its modules, which the import analysis cannot see: bundle them, or face detection
fails in the frozen app."""

from PyInstaller.utils.hooks import collect_data_files

datas = collect_data_files("facenet_pytorch", includes=["data/*.pt"])
# mtcnn.py opens os.path.join(dirname(__file__), "../data/pnet.pt"): the kernel resolves
# "models/.." only if that folder exists on disk, so the modules go there as files too.
module_collection_mode = "pyz+py"
