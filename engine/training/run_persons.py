"""A run's persons (its model's outputs) matched to the project's persons as they are now.

A project keeps changing after a run was trained: persons are renamed, merged,
deleted or added. Evaluating, resuming and reporting a run all need the same answer
to "which catalog person is output k now?", so it lives here, once. Persons are
matched by catalog id (a rename keeps the id); runs recorded before ids were kept,
and persons deleted and created again under the same name, are matched by name.
No torch here: the CLI's run listing and the app's scoreboard use it too.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.catalog import Catalog, RunRecord


@dataclass(frozen=True)
class RunPersons:
    trained_names: tuple[str, ...]         # the model's outputs, named as at training time
    names: tuple[str, ...]                 # the same outputs, named as in the project now
    person_ids: tuple[int | None, ...]     # catalog id of each output now; None: gone

    def index_of(self) -> dict[int, int]:
        """Catalog person id -> the model's output index, for the persons still here."""
        return {pid: k for k, pid in enumerate(self.person_ids) if pid is not None}

    def gone(self) -> tuple[str, ...]:
        """Outputs whose person is no longer in the project (deleted or merged away)."""
        return tuple(name for name, pid in zip(self.trained_names, self.person_ids)
                     if pid is None)


def match_run_persons(catalog: Catalog, record: RunRecord) -> RunPersons:
    persons = {p.id: p.name for p in catalog.persons()}
    by_name = {name.casefold(): pid for pid, name in persons.items()}
    trained = tuple(record.persons)
    ids: list[int | None] = [None] * len(trained)
    if record.person_ids is not None:
        for k, pid in enumerate(record.person_ids):
            if pid in persons:
                ids[k] = pid
    claimed = {pid for pid in ids if pid is not None}
    for k, name in enumerate(trained):
        pid = by_name.get(name.casefold())
        if ids[k] is None and pid is not None and pid not in claimed:
            ids[k] = pid
            claimed.add(pid)
    names = [persons[pid] if pid is not None else trained[k] for k, pid in enumerate(ids)]
    # A person renamed to the name a deleted output had: keep the outputs apart.
    for k, pid in enumerate(ids):
        if pid is None and sum(n.casefold() == names[k].casefold() for n in names) > 1:
            names[k] = f"{names[k]} (as trained)"
    return RunPersons(trained, tuple(names), tuple(ids))
