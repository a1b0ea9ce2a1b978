"""Synthetic projects and the tiny network the reliability tests train (also imported
by their child processes, so nothing here needs pytest)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.imagegen import save

TINY_ARCH = "reliability_tiny"
TINY_SIZE = 32


def register_tiny_arch() -> str:
    """The training tests' TinyNet (tests/engine/training/conftest.py), under its own
    name so that registering and removing it here never disturbs those tests."""
    import engine.models as models
    from tests.engine.training.conftest import TinyNet

    models.register_architecture(models.ArchSpec(
        name=TINY_ARCH, display_name="Tiny reliability CNN", description="A test network.",
        input_size=TINY_SIZE, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), family="cnn",
        builder=TinyNet, head_path="head"))
    return TINY_ARCH


def coloured_crop(person: int, seed: int, size: int = 48) -> np.ndarray:
    """Noise whose brightest channel says the person: a tiny model learns it in an epoch."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 100, (size, size, 3), dtype=np.uint8)
    image[:, :, person % 3] += 140
    return image


def labelled_project(root: Path, persons: int = 3, per_person: int = 12) -> Path:
    """A closed project of ``persons * per_person`` labelled faces with their own crops."""
    from engine.catalog import NewFace
    from engine.project import Project

    with Project.create(root) as project:
        catalog = project.catalog
        with catalog.db.write():  # one transaction
            for p in range(persons):
                person_id = catalog.ensure_person(f"person{p}").id
                for i in range(per_person):
                    name = f"p{p}-{i}.jpg"
                    save(root / "crops" / name, coloured_crop(p, seed=p * 1000 + i))
                    save(root / "thumbs" / name, coloured_crop(p, seed=p * 1000 + i, size=16))
                    photo = catalog.add_photo(
                        path=f"photos/{name}", sha256=f"synthetic-{p}-{i}", size_bytes=1,
                        width=48, height=48, format="JPEG", exif_orientation=1,
                        import_person_id=person_id)
                    catalog.store_faces(photo, [NewFace((0.0, 0.0, 48.0, 48.0), None, None, True,
                                                        f"crops/{name}", f"thumbs/{name}")],
                                        labelled_index=0)
    return root
