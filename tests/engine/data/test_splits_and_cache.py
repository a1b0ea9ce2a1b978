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


def _labelled_faces(catalog, person: str, count: int, tag: str) -> list[int]:
    """Labelled faces in the catalog only (a split needs no pixels)."""
    from engine.catalog import NewFace

    person_id = catalog.ensure_person(person).id
    ids = []
    for n in range(count):
        photo = catalog.add_photo(path=f"{tag}/{n}.jpg", sha256=f"{tag}-{n}", size_bytes=1,
                                  width=100, height=100, format="JPEG", exif_orientation=1,
                                  import_person_id=person_id)
        ids += catalog.store_faces(photo, [NewFace((0, 0, 50, 50), None, 0.99, False,
                                                   f"crops/{tag}{n}.jpg",
                                                   f"thumbs/{tag}{n}.jpg")],
                                   labelled_index=0)
    return ids


def test_a_sixth_person_joins_the_split_stratified_and_the_first_five_stay_put(project):
    """Issue 18: a folder adding a 6th person after a run was trained. The split keeps
    every earlier face where it was; the newcomer's faces are split 80/20 like the
    others (and a view that only reads sees the same assignment before it is stored)."""
    catalog = project.catalog
    for k in range(5):
        _labelled_faces(catalog, f"person{k}", 20, f"p{k}")
    before = ensure_split(catalog)
    newcomer = _labelled_faces(catalog, "person5", 25, "p5")
    more_of_one = _labelled_faces(catalog, "person0", 5, "p0more")

    preview = ensure_split(catalog, store=False)
    assert len(catalog.split_assignments(before.split.id)) == 100  # nothing written
    after = ensure_split(catalog)
    assert preview == after
    assert ensure_split(catalog) == after  # stored: the same every time
    for subset in ("train", "val", "test"):
        assert set(before.subset(subset)) <= set(after.subset(subset))
    subset_of = {f: s for s in ("train", "val", "test") for f, _ in after.subset(s)}
    newcomer_counts = Counter(subset_of[f] for f in newcomer)
    assert newcomer_counts["test"] == 5  # 20% of 25
    assert newcomer_counts["val"] == 3   # 15% of the other 20
    assert newcomer_counts["train"] == 17
    assert all(f in subset_of for f in more_of_one)
    assert Counter(s for f, s in subset_of.items() if f not in newcomer)["test"] == 21  # 20% of 105
