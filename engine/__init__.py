"""FaceLab engine: catalog, face import and cropping, datasets, models, training,
evaluation, inference and export. Pure Python + PyTorch; never imports Qt."""

__version__ = "0.1.0"
