"""The catalog API: photos, faces, persons, labels with undo/redo, skipped files.

Every mutation is one transaction committed before the method returns, so a killed
process never loses a label the user saw applied. Mutations return what changed, so
views redraw only that (Anki's pattern).
"""

from __future__ import annotations

import json
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from engine.catalog.db import CatalogError, Database
from engine.catalog.runs import RunStore

LABEL_SOURCES = ("import", "user", "model")


# A folder name can be this long on every common file system: an import that names
# persons after folders never meets this limit.
PERSON_NAME_MAX = 255
NUMBER_KEYS = 9  # persons 1-9: the labelling keys of the library and the photo viewer


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    number_key: int | None = None  # 1-9: the key that labels with this person, kept for good


def person_name(text: str) -> str:
    """The name a person gets for ``text`` (spaces around it removed), or CatalogError
    saying why ``text`` cannot name a person. The one rule for the app, the CLI and
    imports (folder names)."""
    name = str(text).strip()
    if not name:
        raise CatalogError("A person needs a name (it cannot be empty or only spaces)")
    if any(unicodedata.category(c) == "Cc" for c in name):
        raise CatalogError("A person's name must be one line of text (no tabs, line breaks "
                           "or control characters)")
    if len(name) > PERSON_NAME_MAX:
        raise CatalogError(f"A person's name can have at most {PERSON_NAME_MAX} characters "
                           f"(this one has {len(name)})")
    return name


@dataclass(frozen=True)
class Photo:
    id: int
    path: str
    sha256: str
    size_bytes: int
    width: int
    height: int
    format: str
    exif_orientation: int
    status: str
    error: str | None
    import_person_id: int | None


@dataclass(frozen=True)
class NewFace:
    """A detected face (or whole-image sample) ready to be stored."""
    box: tuple[float, float, float, float]
    landmarks: tuple[tuple[float, float], ...] | None
    score: float | None
    whole_image: bool
    crop_path: str
    thumb_path: str


@dataclass(frozen=True)
class Face:
    id: int
    photo_id: int
    face_index: int
    box: tuple[float, float, float, float]
    landmarks: tuple[tuple[float, float], ...] | None
    score: float | None
    whole_image: bool
    rejected: bool
    crop_path: str
    thumb_path: str
    person_id: int | None
    label_source: str | None

    @property
    def alignable(self) -> bool:
        """Whether the face has the landmarks an aligned chip needs; the others (whole-image
        samples, Haar faces) are framed by a centred crop instead (engine/ingest/align.py).
        Catalog.stats counts the same rule in SQL."""
        return self.landmarks is not None and not self.whole_image


@dataclass(frozen=True)
class Split:
    id: int
    name: str
    seed: int
    test_fraction: float
    val_fraction: float


@dataclass(frozen=True)
class LabelChange:
    """What an action, its undo or its redo changed: views refresh these faces, and the
    persons or the face list when those changed too."""
    action_id: int
    description: str
    face_ids: tuple[int, ...]
    persons_changed: bool = False  # a person was renamed, removed or brought back
    rejected_face_ids: tuple[int, ...] = ()  # faces marked "not a face" or restored


_FACE_COLUMNS = """f.id, f.photo_id, f.face_index, f.x1, f.y1, f.x2, f.y2, f.landmarks, f.score,
    f.whole_image, f.rejected, f.crop_path, f.thumb_path, l.person_id, l.source"""


def _face_from_row(row) -> Face:
    landmarks = json.loads(row["landmarks"]) if row["landmarks"] else None
    return Face(
        id=row["id"], photo_id=row["photo_id"], face_index=row["face_index"],
        box=(row["x1"], row["y1"], row["x2"], row["y2"]),
        landmarks=tuple(tuple(p) for p in landmarks) if landmarks else None,
        score=row["score"], whole_image=bool(row["whole_image"]), rejected=bool(row["rejected"]),
        crop_path=row["crop_path"], thumb_path=row["thumb_path"],
        person_id=row["person_id"],
        label_source=row["source"])


def _face_filter(*, person_id: int | None = None, unlabelled: bool = False,
                 photo_id: int | None = None, whole_image: bool | None = None,
                 include_rejected: bool = False) -> tuple[str, list]:
    """The WHERE clause (with its arguments) shared by the face queries."""
    where, args = [], []
    if person_id is not None:
        where.append("l.person_id = ?")
        args.append(person_id)
    if unlabelled:
        where.append("l.person_id IS NULL")
    if photo_id is not None:
        where.append("f.photo_id = ?")
        args.append(photo_id)
    if whole_image is not None:
        where.append("f.whole_image = ?")
        args.append(int(whole_image))
    if not include_rejected:
        where.append("f.rejected = 0")
    return (" WHERE " + " AND ".join(where) if where else ""), args


def _photo_from_row(row) -> Photo:
    return Photo(**{k: row[k] for k in Photo.__dataclass_fields__})


class Catalog:
    def __init__(self, path: Path, readonly: bool = False) -> None:
        self.db = Database(path, readonly=readonly)
        self.runs = RunStore(self.db)

    @property
    def path(self) -> Path:
        return self.db.path

    def close(self) -> None:
        self.db.close()

    # ----------------------------------------------------------------- persons
    def persons(self) -> list[Person]:
        rows = self.db.conn.execute(
            "SELECT id, name, number_key FROM persons ORDER BY name COLLATE NOCASE")
        return [Person(r["id"], r["name"], r["number_key"]) for r in rows]

    def person_by_name(self, name: str) -> Person | None:
        row = self.db.conn.execute("SELECT id, name, number_key FROM persons WHERE name = ?",
                                   (name,)).fetchone()
        return Person(row["id"], row["name"], row["number_key"]) if row else None

    def ensure_person(self, name: str) -> Person:
        """The person called ``name``, created if new (with the lowest free number key).

        Creating a person is not an undoable action: imports create persons too, and
        nothing is labelled yet; the labels given to them are.
        """
        name = person_name(name)
        with self.db.write() as conn:
            row = conn.execute("SELECT id FROM persons WHERE name = ?", (name,)).fetchone()
            if row is None:
                conn.execute("INSERT INTO persons(id, name, created_at, number_key) "
                             "VALUES (?, ?, ?, ?)", (self._new_person_id(conn), name,
                                                     time.time(), self._free_number_key(conn)))
        return self.person_by_name(name)

    def rename_person(self, person_id: int, new_name: str) -> Person:
        """Rename as one undoable action."""
        new_name = person_name(new_name)
        with self.db.write() as conn:
            before = self._person_state(conn, person_id)
            if before is None:
                raise CatalogError(f"No person with id {person_id}")
            other = conn.execute("SELECT id FROM persons WHERE name = ?", (new_name,)).fetchone()
            if other and other[0] != person_id:
                raise CatalogError(f"A person named {new_name!r} already exists; merge instead")
            if new_name != before["name"]:
                after = {**before, "name": new_name}
                self._record_action(conn, f"Rename {before['name']} to {new_name}", [],
                                    {"persons": [[person_id, before, after]]})
                conn.execute("UPDATE persons SET name = ? WHERE id = ?", (new_name, person_id))
            row = self._person_state(conn, person_id)
        return Person(person_id, row["name"], row["number_key"])

    def merge_persons(self, source_id: int, target_id: int) -> LabelChange:
        """Give every face of ``source_id`` to ``target_id`` and remove ``source_id``, as
        one undoable action (an undo brings the person back with their faces)."""
        if source_id == target_id:
            raise CatalogError("A person cannot be merged into itself")
        with self.db.write() as conn:
            target = self._person_name(conn, target_id)
            if target is None:
                raise CatalogError(f"No person with id {target_id}")
            return self._remove_person(conn, source_id, target_id,
                                       lambda name: f"Merge {name} into {target}")

    def delete_person(self, person_id: int) -> LabelChange:
        """Remove a person, as one undoable action; their faces become unlabelled."""
        with self.db.write() as conn:
            return self._remove_person(conn, person_id, None, lambda name: f"Delete {name}")

    def _remove_person(self, conn, person_id: int, target_id: int | None,
                       describe) -> LabelChange:
        before = self._person_state(conn, person_id)
        if before is None:
            raise CatalogError(f"No person with id {person_id}")
        labels = conn.execute("SELECT face_id, source FROM face_labels WHERE person_id = ? "
                              "ORDER BY face_id", (person_id,)).fetchall()
        photos = [r[0] for r in conn.execute(
            "SELECT id FROM photos WHERE import_person_id = ? ORDER BY id", (person_id,))]
        description = describe(before["name"])
        extra = {"persons": [[person_id, before, None]],
                 "import_persons": [[p, person_id, target_id] for p in photos]}
        changes = [(r[0], person_id, r[1], target_id, r[1] if target_id is not None else None)
                   for r in labels]
        action_id = self._record_action(conn, description, changes, extra)
        self._apply_action(conn, action_id, undo=False)
        return LabelChange(action_id, description, tuple(r[0] for r in labels),
                           persons_changed=True)

    def set_number_key(self, person_id: int, key: int | None) -> None:
        """Pin ``person_id`` to number key ``key`` (1-9; None: no key). A person who had
        that key gives it up (and gets this person's old key): keys never move silently."""
        if key is not None and not 1 <= key <= NUMBER_KEYS:
            raise CatalogError(f"Number keys are 1 to {NUMBER_KEYS}")
        with self.db.write() as conn:
            before = self._person_state(conn, person_id)
            if before is None:
                raise CatalogError(f"No person with id {person_id}")
            holder = conn.execute("SELECT id FROM persons WHERE number_key = ? AND id != ?",
                                  (key, person_id)).fetchone() if key is not None else None
            conn.execute("UPDATE persons SET number_key = NULL WHERE id = ?", (person_id,))
            if holder is not None:
                conn.execute("UPDATE persons SET number_key = ? WHERE id = ?",
                             (before["number_key"], holder[0]))
            conn.execute("UPDATE persons SET number_key = ? WHERE id = ?", (key, person_id))

    @staticmethod
    def _person_state(conn, person_id: int) -> dict | None:
        row = conn.execute("SELECT name, created_at, number_key FROM persons WHERE id = ?",
                           (person_id,)).fetchone()
        return dict(row) if row else None

    @staticmethod
    def _free_number_key(conn, wanted: int | None = None) -> int | None:
        taken = {r[0] for r in conn.execute(
            "SELECT number_key FROM persons WHERE number_key IS NOT NULL")}
        if wanted is not None and wanted not in taken:
            return wanted
        return next((k for k in range(1, NUMBER_KEYS + 1) if k not in taken), None)

    @staticmethod
    def _new_person_id(conn) -> int:
        """An id no person ever had: an undo may bring a removed person back under theirs."""
        in_history = conn.execute(
            """SELECT MAX(json_extract(p.value, '$[0]')) FROM label_actions a,
               json_each(a.extra, '$.persons') p WHERE a.extra IS NOT NULL""").fetchone()[0]
        labelled = conn.execute("SELECT MAX(MAX(COALESCE(old_person_id, 0)), "
                                "MAX(COALESCE(new_person_id, 0))) FROM label_changes").fetchone()[0]
        current = conn.execute("SELECT MAX(id) FROM persons").fetchone()[0]
        return 1 + max(in_history or 0, labelled or 0, current or 0)

    def person_counts(self) -> dict[str, int]:
        """Labelled, non-rejected faces per person (persons with none included)."""
        rows = self.db.conn.execute("""
            SELECT p.name, COUNT(f.id) AS n FROM persons p
            LEFT JOIN face_labels l ON l.person_id = p.id
            LEFT JOIN faces f ON f.id = l.face_id AND f.rejected = 0
            GROUP BY p.id ORDER BY p.name COLLATE NOCASE""")
        return {r["name"]: r["n"] for r in rows}

    # ------------------------------------------------------------------ photos
    def add_photo(self, *, path: str, sha256: str, size_bytes: int, width: int, height: int,
                  format: str, exif_orientation: int, import_person_id: int | None) -> int:
        with self.db.write() as conn:
            cur = conn.execute(
                """INSERT INTO photos(path, sha256, size_bytes, width, height, format,
                   exif_orientation, import_person_id, imported_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (path, sha256, size_bytes, width, height, format, exif_orientation,
                 import_person_id, time.time()))
            conn.execute("DELETE FROM skipped_files WHERE path = ?", (path,))
            return int(cur.lastrowid)

    def update_photo_content(self, photo_id: int, *, sha256: str, size_bytes: int, width: int,
                             height: int, format: str, exif_orientation: int) -> None:
        with self.db.write() as conn:
            conn.execute("""UPDATE photos SET sha256 = ?, size_bytes = ?, width = ?, height = ?,
                            format = ?, exif_orientation = ?, status = 'pending', error = NULL
                            WHERE id = ?""",
                         (sha256, size_bytes, width, height, format, exif_orientation, photo_id))

    def photo(self, photo_id: int) -> Photo:
        row = self.db.conn.execute("SELECT * FROM photos WHERE id = ?", (photo_id,)).fetchone()
        if row is None:
            raise CatalogError(f"No photo with id {photo_id}")
        return _photo_from_row(row)

    def photo_by_hash(self, sha256: str) -> Photo | None:
        row = self.db.conn.execute("SELECT * FROM photos WHERE sha256 = ?", (sha256,)).fetchone()
        return _photo_from_row(row) if row else None

    def photo_by_path(self, path: str) -> Photo | None:
        row = self.db.conn.execute("SELECT * FROM photos WHERE path = ?", (path,)).fetchone()
        return _photo_from_row(row) if row else None

    def known_paths(self) -> dict[str, tuple[int, str]]:
        """path -> (size, sha256): lets a re-import skip hashing unchanged files."""
        rows = self.db.conn.execute("SELECT path, size_bytes, sha256 FROM photos")
        return {r["path"]: (r["size_bytes"], r["sha256"]) for r in rows}

    def photos(self, status: str | None = None) -> list[Photo]:
        if status is None:
            rows = self.db.conn.execute("SELECT * FROM photos ORDER BY id")
        else:
            rows = self.db.conn.execute("SELECT * FROM photos WHERE status = ? ORDER BY id",
                                        (status,))
        return [_photo_from_row(r) for r in rows]

    def relocate_photo(self, photo_id: int, new_path: str) -> None:
        """The same content was found at a new path (the user moved their photos)."""
        with self.db.write() as conn:
            conn.execute("UPDATE photos SET path = ? WHERE id = ?", (new_path, photo_id))
            conn.execute("""UPDATE photos SET status = 'pending', error = NULL
                            WHERE id = ? AND status IN ('missing', 'error')""", (photo_id,))
            conn.execute("DELETE FROM skipped_files WHERE path = ?", (new_path,))

    def set_import_person(self, photo_id: int, person_id: int) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE photos SET import_person_id = ? WHERE id = ?",
                         (person_id, photo_id))

    def mark_photo(self, photo_id: int, status: str, error: str | None = None) -> None:
        """Record a photo that could not be cropped ('error', 'missing') or reset it."""
        with self.db.write() as conn:
            conn.execute("UPDATE photos SET status = ?, error = ? WHERE id = ?",
                         (status, error, photo_id))

    def store_faces(self, photo_id: int, faces: Sequence[NewFace],
                    labelled_index: int | None) -> list[int]:
        """Replace a photo's samples with freshly cropped ones, in one transaction.

        ``labelled_index`` is the face that receives the photo's import label (the most
        plausible one); the others stay unlabelled. Labels the user gave to the old
        samples of this photo are carried over by face index.
        """
        now = time.time()
        with self.db.write() as conn:
            photo = conn.execute("SELECT import_person_id FROM photos WHERE id = ?",
                                 (photo_id,)).fetchone()
            old_labels = {r["face_index"]: (r["person_id"], r["source"]) for r in conn.execute(
                """SELECT f.face_index, l.person_id, l.source FROM faces f
                   JOIN face_labels l ON l.face_id = f.id
                   WHERE f.photo_id = ? AND l.source != 'import'""", (photo_id,))}
            conn.execute("DELETE FROM faces WHERE photo_id = ?", (photo_id,))
            ids = []
            for index, face in enumerate(faces):
                cur = conn.execute(
                    """INSERT INTO faces(photo_id, face_index, x1, y1, x2, y2, landmarks, score,
                       whole_image, crop_path, thumb_path) VALUES (?,?,?,?,?,?,?,?,?,?,?)""",
                    (photo_id, index, *face.box,
                     json.dumps(face.landmarks) if face.landmarks else None,
                     face.score, int(face.whole_image), face.crop_path, face.thumb_path))
                face_id = int(cur.lastrowid)
                ids.append(face_id)
                label = old_labels.get(index)
                if label is None and index == labelled_index and photo["import_person_id"]:
                    label = (photo["import_person_id"], "import")
                if label is not None:
                    conn.execute("""INSERT INTO face_labels(face_id, person_id, source, updated_at)
                                    VALUES (?, ?, ?, ?)""", (face_id, *label, now))
            status = "no_face" if faces and all(f.whole_image for f in faces) else "done"
            conn.execute("UPDATE photos SET status = ?, error = NULL WHERE id = ?",
                         (status, photo_id))
        return ids

    # ------------------------------------------------------------------- faces
    def face(self, face_id: int) -> Face:
        row = self.db.conn.execute(
            f"SELECT {_FACE_COLUMNS} FROM faces f LEFT JOIN face_labels l ON l.face_id = f.id "
            "WHERE f.id = ?", (face_id,)).fetchone()
        if row is None:
            raise CatalogError(f"No face with id {face_id}")
        return _face_from_row(row)

    def faces(self, *, person_id: int | None = None, unlabelled: bool = False,
              photo_id: int | None = None, include_rejected: bool = False) -> list[Face]:
        where, args = _face_filter(person_id=person_id, unlabelled=unlabelled,
                                   photo_id=photo_id, include_rejected=include_rejected)
        sql = (f"SELECT {_FACE_COLUMNS} FROM faces f LEFT JOIN face_labels l ON l.face_id = f.id"
               + where + " ORDER BY f.id")
        return [_face_from_row(r) for r in self.db.conn.execute(sql, args)]

    def face_ids(self, *, person_id: int | None = None, unlabelled: bool = False,
                 whole_image: bool | None = None, include_rejected: bool = False) -> list[int]:
        """Ids only, in face order: what a 20,000-face grid needs up front (rows are
        fetched later, a page at a time, with :meth:`faces_by_ids`)."""
        where, args = _face_filter(person_id=person_id, unlabelled=unlabelled,
                                   whole_image=whole_image, include_rejected=include_rejected)
        sql = ("SELECT f.id FROM faces f LEFT JOIN face_labels l ON l.face_id = f.id"
               + where + " ORDER BY f.id")
        return [r[0] for r in self.db.conn.execute(sql, args)]

    def faces_by_ids(self, face_ids: Iterable[int]) -> list[Face]:
        """The faces that still exist among ``face_ids`` (rejected ones included)."""
        ids = list(face_ids)
        out: list[Face] = []
        for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
            chunk = ids[start:start + 900]
            out += [_face_from_row(r) for r in self.db.conn.execute(
                f"SELECT {_FACE_COLUMNS} FROM faces f LEFT JOIN face_labels l "
                f"ON l.face_id = f.id WHERE f.id IN ({','.join('?' * len(chunk))})", chunk)]
        return out

    def labelled_faces(self) -> list[tuple[int, int, str]]:
        """(face_id, person_id, crop_path) of every usable labelled face: training data."""
        rows = self.db.conn.execute("""SELECT f.id, l.person_id, f.crop_path FROM faces f
            JOIN face_labels l ON l.face_id = f.id WHERE f.rejected = 0 ORDER BY f.id""")
        return [(r[0], r[1], r[2]) for r in rows]

    def set_rejected(self, face_ids: Iterable[int], rejected: bool = True) -> LabelChange | None:
        """Mark faces "not a face" (or a face again) as one undoable action."""
        ids = list(dict.fromkeys(face_ids))
        with self.db.write() as conn:
            old = {}
            for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
                chunk = ids[start:start + 900]
                old.update(conn.execute(f"SELECT id, rejected FROM faces WHERE id IN "
                                        f"({','.join('?' * len(chunk))})", chunk).fetchall())
            changed = [i for i in ids if i in old and bool(old[i]) != rejected]
            if not changed:
                return None
            noun = "face" if len(changed) == 1 else "faces"
            description = (f"Mark {len(changed)} {noun} as not a face" if rejected
                           else f"Restore {len(changed)} {noun} as a face")
            action_id = self._record_action(
                conn, description, [], {"rejected": [[i, False, True] if rejected
                                                     else [i, True, False] for i in changed]})
            self._apply_action(conn, action_id, undo=False)
        return LabelChange(action_id, description, (), rejected_face_ids=tuple(changed))

    # ------------------------------------------------------ labels, undo, redo
    def set_labels(self, face_ids: Iterable[int], person_id: int | None, *,
                   source: str = "user", description: str | None = None) -> LabelChange | None:
        """Label (or, with ``person_id=None``, unlabel) faces as one undoable action."""
        if source not in LABEL_SOURCES:
            raise ValueError(f"unknown label source {source!r}")
        ids = list(dict.fromkeys(face_ids))
        if not ids:
            return None
        now = time.time()
        with self.db.write() as conn:
            old = self._current_labels(conn, ids)
            changed = [i for i in ids if old.get(i, (None, None))[0] != person_id
                       or (person_id is not None and old.get(i, (None, None))[1] != source)]
            if not changed:
                return None
            if description is None:
                name = self._person_name(conn, person_id) if person_id is not None else None
                noun = "face" if len(changed) == 1 else "faces"
                description = (f"Label {len(changed)} {noun} as {name}" if name
                               else f"Unlabel {len(changed)} {noun}")
            action_id = self._record_action(
                conn, description,
                [(i, *old.get(i, (None, None)), person_id,
                  source if person_id is not None else None) for i in changed])
            self._apply_labels(conn, [(i, person_id, source) for i in changed], now)
        return LabelChange(action_id, description, tuple(changed))

    @staticmethod
    def _record_action(conn, description: str, label_changes: list[tuple],
                       extra: dict | None = None) -> int:
        """Store an action: its label changes (face, old person and source, new person and
        source) and ``extra``, the rest of what it changes (see :meth:`_apply_action`)."""
        # A new action makes the undone ones unreachable: the redo stack is cleared.
        conn.execute("DELETE FROM label_actions WHERE undone = 1")
        action_id = int(conn.execute(
            "INSERT INTO label_actions(description, created_at, extra) VALUES (?, ?, ?)",
            (description, time.time(), json.dumps(extra) if extra else None)).lastrowid)
        conn.executemany(
            """INSERT INTO label_changes(action_id, face_id, old_person_id, old_source,
               new_person_id, new_source) VALUES (?, ?, ?, ?, ?, ?)""",
            [(action_id, *change) for change in label_changes])
        return action_id

    def can_undo(self) -> bool:
        return self.db.conn.execute(
            "SELECT 1 FROM label_actions WHERE undone = 0 LIMIT 1").fetchone() is not None

    def can_redo(self) -> bool:
        return self.db.conn.execute(
            "SELECT 1 FROM label_actions WHERE undone = 1 LIMIT 1").fetchone() is not None

    def undo(self) -> LabelChange | None:
        return self._step(undo=True)

    def redo(self) -> LabelChange | None:
        return self._step(undo=False)

    def _step(self, undo: bool) -> LabelChange | None:
        with self.db.write() as conn:
            # Undo takes the newest live action; redo the oldest undone one.
            row = conn.execute(
                "SELECT id, description FROM label_actions WHERE undone = ? ORDER BY id "
                + ("DESC" if undo else "ASC") + " LIMIT 1", (0 if undo else 1,)).fetchone()
            if row is None:
                return None
            change = self._apply_action(conn, row["id"], undo=undo)
            conn.execute("UPDATE label_actions SET undone = ? WHERE id = ?",
                         (1 if undo else 0, row["id"]))
        return change

    def _apply_action(self, conn, action_id: int, *, undo: bool) -> LabelChange:
        """Put the library in the state before (``undo``) or after action ``action_id``.

        ``extra`` holds ``persons`` [[id, state before, state after]] (a state is the
        person's row, None where the person does not exist), ``import_persons``
        [[photo, before, after]] and ``rejected`` [[face, before, after]]. Persons are
        brought back before the labels that name them and removed after them.
        """
        row = conn.execute("SELECT description, extra FROM label_actions WHERE id = ?",
                           (action_id,)).fetchone()
        description = row["description"]
        extra = json.loads(row["extra"]) if row["extra"] else {}
        pick = (lambda change: change[1]) if undo else (lambda change: change[2])
        persons = [(p[0], pick(p)) for p in extra.get("persons", ())]
        for person_id, state in persons:
            if state is not None:
                self._restore_person(conn, person_id, state, description, undo)

        changes = conn.execute(
            "SELECT face_id, old_person_id, old_source, new_person_id, new_source "
            "FROM label_changes WHERE action_id = ?", (action_id,)).fetchall()
        existing = self._existing_faces(conn, [c["face_id"] for c in changes])
        updates = [(c["face_id"], c["old_person_id"] if undo else c["new_person_id"],
                    c["old_source"] if undo else c["new_source"])
                   for c in changes if c["face_id"] in existing]
        self._apply_labels(conn, updates, time.time())

        conn.executemany("UPDATE photos SET import_person_id = ? WHERE id = ?",
                         [(pick(c), c[0]) for c in extra.get("import_persons", ())])
        rejected = extra.get("rejected", ())
        conn.executemany("UPDATE faces SET rejected = ? WHERE id = ?",
                         [(int(pick(c)), c[0]) for c in rejected])
        for person_id, state in persons:
            if state is None:  # face_labels of the person went with the updates above
                conn.execute("DELETE FROM persons WHERE id = ?", (person_id,))
        rejected_ids = self._existing_faces(conn, [c[0] for c in rejected])
        return LabelChange(action_id, description, tuple(u[0] for u in updates),
                           persons_changed=bool(persons),
                           rejected_face_ids=tuple(c[0] for c in rejected
                                                   if c[0] in rejected_ids))

    def _restore_person(self, conn, person_id: int, state: dict, description: str,
                        undo: bool) -> None:
        clash = conn.execute("SELECT name FROM persons WHERE name = ? AND id != ?",
                             (state["name"], person_id)).fetchone()
        if clash is not None:
            step = "undo" if undo else "redo"
            raise CatalogError(f"Cannot {step} “{description}”: another person is called "
                               f"{clash[0]} now. Rename or merge that person first; nothing "
                               "was changed.")
        if conn.execute("SELECT 1 FROM persons WHERE id = ?", (person_id,)).fetchone():
            conn.execute("UPDATE persons SET name = ? WHERE id = ?", (state["name"], person_id))
            return
        conn.execute("INSERT INTO persons(id, name, created_at, number_key) VALUES (?,?,?,?)",
                     (person_id, state["name"], state["created_at"],
                      self._free_number_key(conn, state["number_key"])))

    @staticmethod
    def _existing_faces(conn, face_ids: list[int]) -> set[int]:
        out: set[int] = set()
        for start in range(0, len(face_ids), 900):  # SQLite's bound-parameter limit
            chunk = face_ids[start:start + 900]
            out |= {r[0] for r in conn.execute(
                f"SELECT id FROM faces WHERE id IN ({','.join('?' * len(chunk))})", chunk)}
        return out

    def history(self, limit: int = 50) -> list[tuple[int, str, bool]]:
        rows = self.db.conn.execute(
            "SELECT id, description, undone FROM label_actions ORDER BY id DESC LIMIT ?", (limit,))
        return [(r[0], r[1], bool(r[2])) for r in rows]

    @staticmethod
    def _current_labels(conn, ids: list[int]) -> dict[int, tuple[int, str]]:
        out: dict[int, tuple[int, str]] = {}
        for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
            chunk = ids[start:start + 900]
            for r in conn.execute(
                    f"SELECT face_id, person_id, source FROM face_labels "
                    f"WHERE face_id IN ({','.join('?' * len(chunk))})", chunk):
                out[r[0]] = (r[1], r[2])
        return out

    @staticmethod
    def _apply_labels(conn, updates: list[tuple[int, int | None, str | None]], now: float) -> None:
        conn.executemany("DELETE FROM face_labels WHERE face_id = ?",
                         [(i,) for i, person, _ in updates if person is None])
        conn.executemany(
            """INSERT INTO face_labels(face_id, person_id, source, updated_at) VALUES (?,?,?,?)
               ON CONFLICT(face_id) DO UPDATE SET person_id = excluded.person_id,
               source = excluded.source, updated_at = excluded.updated_at""",
            [(i, person, source, now) for i, person, source in updates if person is not None])

    @staticmethod
    def _person_name(conn, person_id: int) -> str | None:
        row = conn.execute("SELECT name FROM persons WHERE id = ?", (person_id,)).fetchone()
        return row[0] if row else None

    # ------------------------------------------------------------------ splits
    def split(self, name: str) -> Split | None:
        row = self.db.conn.execute("SELECT * FROM splits WHERE name = ?", (name,)).fetchone()
        return Split(row["id"], row["name"], row["seed"], row["test_fraction"],
                     row["val_fraction"]) if row else None

    def create_split(self, name: str, seed: int, test_fraction: float,
                     val_fraction: float) -> Split:
        with self.db.write() as conn:
            cur = conn.execute("""INSERT INTO splits(name, seed, test_fraction, val_fraction,
                                  created_at) VALUES (?, ?, ?, ?, ?)""",
                               (name, seed, test_fraction, val_fraction, time.time()))
        return Split(int(cur.lastrowid), name, seed, test_fraction, val_fraction)

    def split_assignments(self, split_id: int) -> dict[int, str]:
        """face_id -> 'train' | 'val' | 'test' for every face ever assigned."""
        return dict(self.db.conn.execute(
            "SELECT face_id, subset FROM split_members WHERE split_id = ?", (split_id,)).fetchall())

    def add_split_members(self, split_id: int, assignments: Iterable[tuple[int, str]]) -> None:
        with self.db.write() as conn:
            conn.executemany("INSERT INTO split_members(split_id, face_id, subset) VALUES (?,?,?)",
                             [(split_id, f, subset) for f, subset in assignments])

    # ----------------------------------------------------------- skipped files
    def record_skipped(self, path: str, reason: str) -> None:
        with self.db.write() as conn:
            conn.execute("""INSERT INTO skipped_files(path, reason, at) VALUES (?, ?, ?)
                            ON CONFLICT(path) DO UPDATE SET reason = excluded.reason,
                            at = excluded.at""", (path, reason, time.time()))

    def skipped(self) -> dict[str, str]:
        """Every file the user should know about: not importable, or not decodable/found."""
        out = {r[0]: r[1] for r in self.db.conn.execute(
            "SELECT path, reason FROM skipped_files ORDER BY path")}
        for r in self.db.conn.execute(
                "SELECT path, error FROM photos WHERE status IN ('error', 'missing') ORDER BY path"):
            out[r[0]] = r[1] or "unreadable"
        return out

    # ---------------------------------------------------------------- settings
    def get_setting(self, key: str) -> str | None:
        """The JSON text stored under ``key``, or None if it was never set."""
        row = self.db.conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_setting(self, key: str, value_json: str) -> None:
        """Store ``value_json`` (JSON text) under ``key``, replacing any earlier value."""
        try:
            json.loads(value_json)
        except (TypeError, ValueError) as exc:  # checked here: a bad value would break readers
            raise CatalogError(f"Setting {key!r} must be JSON text ({exc})") from exc
        with self.db.write() as conn:
            conn.execute("""INSERT INTO settings(key, value, updated_at) VALUES (?, ?, ?)
                            ON CONFLICT(key) DO UPDATE SET value = excluded.value,
                            updated_at = excluded.updated_at""", (key, value_json, time.time()))

    # ------------------------------------------------------------------- stats
    def stats(self) -> dict:
        conn = self.db.conn
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "photos": one("SELECT COUNT(*) FROM photos"),
            "pending_photos": one("SELECT COUNT(*) FROM photos WHERE status = 'pending'"),
            "faces": one("SELECT COUNT(*) FROM faces WHERE rejected = 0"),
            "labeled_faces": one("""SELECT COUNT(*) FROM faces f JOIN face_labels l
                                    ON l.face_id = f.id WHERE f.rejected = 0"""),
            "unlabeled_faces": one("""SELECT COUNT(*) FROM faces f LEFT JOIN face_labels l
                                      ON l.face_id = f.id
                                      WHERE f.rejected = 0 AND l.face_id IS NULL"""),
            "no_face_photos": one("SELECT COUNT(*) FROM photos WHERE status = 'no_face'"),
            # Face.alignable, in SQL: faces framed by landmarks in aligned chips, and
            # those that fall back to a centred crop.
            "aligned_faces": one("""SELECT COUNT(*) FROM faces WHERE rejected = 0
                                    AND landmarks IS NOT NULL AND whole_image = 0"""),
            "unaligned_faces": one("""SELECT COUNT(*) FROM faces WHERE rejected = 0
                                      AND (landmarks IS NULL OR whole_image = 1)"""),
            "multi_face_photos": one("""SELECT COUNT(*) FROM (SELECT photo_id FROM faces
                                        WHERE whole_image = 0 GROUP BY photo_id
                                        HAVING COUNT(*) > 1)"""),
            "persons": self.person_counts(),
            "skipped": self.skipped(),
        }
