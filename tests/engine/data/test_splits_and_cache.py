from collections import Counter

import numpy as np
import torch
from PIL import Image

from engine.data.cache import load_face_tensors
from engine.data.splits import ensure_split


def test_split_is_stratified_stored_and_reused(cropped_5celeb, project_copy):
    project = project_copy(cropped_5celeb)
    split = ensure_split(project.catalog)
    sizes = {s: len(split.subset(s)) for s in ("train", "val", "test")}
    assert sum(sizes.values()) == 118
    assert 0.17 <= sizes["test"] / 118 <= 0.23  # the lab's 20% test
    assert sizes["val"] > 0
    per_person = Counter(p for _, p in split.test)
    totals = Counter(p for _, p, _ in project.catalog.labelled_faces())
    for person, total in totals.items():
        assert abs(per_person[person] - 0.2 * total) <= 1  # each person's share
    again = ensure_split(project.catalog)
    assert again == split  # stored: the same assignment every time


def test_new_labels_join_the_split_without_moving_old_ones(cropped_5celeb, project_copy):
    project = project_copy(cropped_5celeb)
    before = ensure_split(project.catalog)
    unlabelled = project.catalog.faces(unlabelled=True)
    person = project.catalog.persons()[0]
    project.catalog.set_labels([f.id for f in unlabelled], person.id)
    after = ensure_split(project.catalog)
    old = {s: set(before.subset(s)) for s in ("train", "val", "test")}
    for subset in ("train", "val", "test"):
        assert old[subset] <= set(after.subset(subset))
    assert sum(len(after.subset(s)) for s in ("train", "val", "test")) == 118 + len(unlabelled)


def test_tensor_cache_matches_the_crops_and_is_reused(cropped_5celeb, project_copy, monkeypatch):
    project = project_copy(cropped_5celeb)
    faces = project.catalog.faces()[:10]
    x = load_face_tensors(project, [f.id for f in faces], 64)
    assert x.shape == (10, 3, 64, 64) and x.dtype == torch.uint8
    crop = np.asarray(Image.open(project.resolve(faces[3].crop_path)).convert("RGB")
                      .resize((64, 64), Image.Resampling.BILINEAR))
    assert np.abs(x[3].permute(1, 2, 0).numpy().astype(int) - crop.astype(int)).mean() < 2

    import engine.data.cache as cache

    def no_decoding(*args):
        raise AssertionError("cached faces must not be decoded again")

    monkeypatch.setattr(cache, "_decode_crop", no_decoding)
    again = load_face_tensors(project, [f.id for f in reversed(faces)], 64)
    assert torch.equal(again, x.flip(0))
