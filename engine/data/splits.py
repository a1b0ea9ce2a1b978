"""Stratified train/validation/test splits, stored in the catalog and reused by every run.

A split assigns each labelled face to a subset once; runs on the same split are
comparable (the scoreboard relies on it). Faces labelled later are added to the split
per person, to whichever subset is furthest below its share, so proportions hold.
The lab's default: 20% test; validation (for early stopping) carved from the rest.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from engine.catalog import Catalog, CatalogError, Split

log = logging.getLogger(__name__)

DEFAULT_SPLIT = "default"
SUBSETS = ("train", "val", "test")


@dataclass(frozen=True)
class SplitData:
    """The labelled faces of each subset now: (face_id, person_id) pairs, by face id."""
    split: Split
    train: tuple[tuple[int, int], ...]
    val: tuple[tuple[int, int], ...]
    test: tuple[tuple[int, int], ...]

    def subset(self, name: str) -> tuple[tuple[int, int], ...]:
        return getattr(self, name)


def _targets(n: int, test_fraction: float, val_fraction: float) -> dict[str, float]:
    test = n * test_fraction
    val = (n - test) * val_fraction
    return {"test": test, "val": val, "train": n - test - val}


def _assign_person(face_ids: list[int], existing: dict[int, str], rng: np.random.Generator,
                   test_fraction: float, val_fraction: float) -> list[tuple[int, str]]:
    new = [f for f in face_ids if f not in existing]
    if not new:
        return []
    counts = {s: sum(1 for f in face_ids if existing.get(f) == s) for s in SUBSETS}
    order = [new[i] for i in rng.permutation(len(new))]
    out = []
    for face_id in order:
        n = sum(counts.values()) + 1
        targets = _targets(n, test_fraction, val_fraction)
        # A person needs a training face before anything else, then test, then val.
        if counts["train"] == 0:
            subset = "train"
        else:
            subset = max(("test", "val", "train"), key=lambda s: targets[s] - counts[s])
        counts[subset] += 1
        out.append((face_id, subset))
    return out


def ensure_split(catalog: Catalog, name: str = DEFAULT_SPLIT, *, seed: int = 0,
                 test_fraction: float = 0.2, val_fraction: float = 0.15,
                 store: bool = True) -> SplitData:
    """Open (or create) the split and add any labelled face it does not cover yet.

    ``store=False`` reads only (a read-only catalog, a view that must not write): the
    faces not assigned yet get the subsets storing would give them now, unsaved.
    """
    split = catalog.split(name)
    if split is None:
        if not store:
            raise CatalogError(f"No split named {name!r} in this project")
        split = catalog.create_split(name, seed, test_fraction, val_fraction)
    existing = catalog.split_assignments(split.id)
    labelled = catalog.labelled_faces()
    by_person: dict[int, list[int]] = defaultdict(list)
    for face_id, person_id, _ in labelled:
        by_person[person_id].append(face_id)
    rng = np.random.default_rng(split.seed)
    added = []
    for person_id in sorted(by_person):
        added += _assign_person(sorted(by_person[person_id]), existing, rng,
                                split.test_fraction, split.val_fraction)
    if added and store:
        catalog.add_split_members(split.id, added)
        log.info("split %s: %d new face(s) assigned", name, len(added))
    existing.update(added)
    members: dict[str, list[tuple[int, int]]] = {s: [] for s in SUBSETS}
    for face_id, person_id, _ in labelled:
        members[existing[face_id]].append((face_id, person_id))
    return SplitData(split, *(tuple(members[s]) for s in SUBSETS))


def run_split(catalog: Catalog, split_id: int | None, *, store: bool = True) -> SplitData | None:
    """The split a run was trained on, as it is now (new faces taken in); None when the
    run has none or its split was deleted."""
    if split_id is None:
        return None
    row = catalog.db.conn.execute("SELECT name FROM splits WHERE id = ?", (split_id,)).fetchone()
    return None if row is None else ensure_split(catalog, row[0], store=store)
