"""Which faces the library shows: a plain value, turned into face ids by the catalog."""

from __future__ import annotations

from dataclasses import dataclass

from engine.catalog import Catalog

ALL, UNLABELLED, NO_FACE, SUSPICIOUS, PERSON, FACE_SET = (
    "all", "unlabelled", "no_face", "suspicious", "person", "face_set")


@dataclass(frozen=True)
class FaceFilter:
    kind: str = ALL
    title: str = "All faces"
    person_id: int | None = None
    face_ids: tuple[int, ...] = ()  # FACE_SET: e.g. misclassified in a run, in its order

    def query(self, catalog: Catalog) -> list[int]:
        if self.kind == ALL:
            return catalog.face_ids()
        if self.kind == UNLABELLED:
            return catalog.face_ids(unlabelled=True)
        if self.kind == NO_FACE:
            return catalog.face_ids(whole_image=True)
        if self.kind == PERSON:
            return catalog.face_ids(person_id=self.person_id)
        if self.kind == SUSPICIOUS:  # most suspicious first
            return _still_shown(catalog, [i.face_id for i in catalog.runs.label_issues()])
        if self.kind == FACE_SET:
            return _still_shown(catalog, list(self.face_ids))
        raise ValueError(f"unknown face filter {self.kind!r}")


def person_filter(person_id: int, name: str) -> FaceFilter:
    return FaceFilter(PERSON, name, person_id=person_id)


def _still_shown(catalog: Catalog, ordered_ids: list[int]) -> list[int]:
    """Keep the given order, minus faces deleted or marked "not a face" since."""
    alive = {f.id for f in catalog.faces_by_ids(ordered_ids) if not f.rejected}
    return [i for i in ordered_ids if i in alive]
