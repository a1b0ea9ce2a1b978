import sqlite3
import threading

import pytest

from engine.catalog import Catalog, CatalogError, LATEST_VERSION, NewFace, SchemaTooNewError
from engine.catalog import schema


def _add_photo_with_faces(catalog: Catalog, n_faces: int, tag: str = "a") -> list[int]:
    photo_id = catalog.add_photo(path=f"{tag}.jpg", sha256=f"sha-{tag}", size_bytes=1, width=10,
                                 height=10, format="JPEG", exif_orientation=1,
                                 import_person_id=None)
    faces = [NewFace((0, 0, 5, 5), None, 0.99, False, f"crops/{tag}{i}.jpg",
                     f"thumbs/{tag}{i}.jpg") for i in range(n_faces)]
    return catalog.store_faces(photo_id, faces, labelled_index=None)


@pytest.fixture
def catalog(tmp_path):
    cat = Catalog(tmp_path / "catalog.sqlite")
    yield cat
    cat.close()


def test_new_catalog_is_wal_with_foreign_keys_and_latest_schema(catalog):
    conn = catalog.db.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert catalog.db.schema_version() == LATEST_VERSION


def test_labels_undo_redo_and_redo_cleared_by_new_action(catalog):
    faces = _add_photo_with_faces(catalog, 3)
    alice, bob = catalog.ensure_person("Alice"), catalog.ensure_person("Bob")

    first = catalog.set_labels(faces[:2], alice.id)
    assert first.face_ids == tuple(faces[:2]) and "Alice" in first.description
    catalog.set_labels(faces, bob.id)
    assert [f.person_id for f in catalog.faces()] == [bob.id] * 3

    undone = catalog.undo()
    assert set(undone.face_ids) == set(faces)
    assert [f.person_id for f in catalog.faces()] == [alice.id, alice.id, None]
    catalog.undo()
    assert [f.person_id for f in catalog.faces()] == [None, None, None]
    assert catalog.undo() is None and not catalog.can_undo()

    catalog.redo()
    assert [f.person_id for f in catalog.faces()] == [alice.id, alice.id, None]
    assert catalog.can_redo()
    catalog.set_labels([faces[2]], alice.id)  # a new action clears the redo stack
    assert not catalog.can_redo() and catalog.redo() is None
    assert [f.person_id for f in catalog.faces()] == [alice.id] * 3
    assert all(f.label_source == "user" for f in catalog.faces())


def test_unchanged_relabel_records_nothing(catalog):
    faces = _add_photo_with_faces(catalog, 2)
    alice = catalog.ensure_person("Alice")
    catalog.set_labels(faces, alice.id)
    assert catalog.set_labels(faces, alice.id) is None
    assert len(catalog.history()) == 1


def test_every_label_change_is_committed_and_undo_survives_reopen(tmp_path):
    path = tmp_path / "catalog.sqlite"
    cat = Catalog(path)
    faces = _add_photo_with_faces(cat, 2)
    alice = cat.ensure_person("Alice")
    cat.set_labels(faces, alice.id)
    # Another connection (another process, in effect) sees it before any close.
    other = sqlite3.connect(path)
    assert other.execute("SELECT COUNT(*) FROM face_labels").fetchone()[0] == 2
    other.close()
    cat.close()

    reopened = Catalog(path)
    assert reopened.can_undo()
    reopened.undo()
    assert all(f.person_id is None for f in reopened.faces())
    reopened.close()


def test_unlabel_and_store_faces_keeps_user_labels_on_recrop(catalog):
    faces = _add_photo_with_faces(catalog, 2)
    alice = catalog.ensure_person("Alice")
    catalog.set_labels([faces[1]], alice.id)
    photo_id = catalog.face(faces[1]).photo_id
    recropped = catalog.store_faces(photo_id, [NewFace((0, 0, 5, 5), None, 0.9, False, "c0",
                                                       "t0"),
                                               NewFace((1, 1, 5, 5), None, 0.9, False, "c1",
                                                       "t1")], labelled_index=None)
    assert catalog.face(recropped[1]).person_id == alice.id
    change = catalog.set_labels([recropped[1]], None)
    assert change.description.startswith("Unlabel")
    assert catalog.face(recropped[1]).person_id is None


def test_person_counts_and_rename(catalog):
    faces = _add_photo_with_faces(catalog, 3)
    alice = catalog.ensure_person("Alice")
    catalog.ensure_person("Bob")
    catalog.set_labels(faces[:2], alice.id)
    assert catalog.person_counts() == {"Alice": 2, "Bob": 0}
    catalog.rename_person(alice.id, "Alicia")
    assert catalog.person_counts() == {"Alicia": 2, "Bob": 0}
    with pytest.raises(CatalogError, match="already exists"):
        catalog.rename_person(alice.id, "bob")  # names are case-insensitive


def test_migration_upgrades_old_catalog_and_keeps_data(tmp_path, monkeypatch):
    path = tmp_path / "catalog.sqlite"
    old = Catalog(path)
    faces = _add_photo_with_faces(old, 1)
    old.set_labels(faces, old.ensure_person("Alice").id)
    old.close()

    extra = "ALTER TABLE persons ADD COLUMN note TEXT; CREATE TABLE extra (x INTEGER);"
    monkeypatch.setattr("engine.catalog.db.MIGRATIONS", schema.MIGRATIONS + (extra,))
    monkeypatch.setattr("engine.catalog.db.LATEST_VERSION", LATEST_VERSION + 1)
    upgraded = Catalog(path)
    assert upgraded.db.schema_version() == LATEST_VERSION + 1
    assert upgraded.person_counts() == {"Alice": 1}
    upgraded.db.conn.execute("SELECT note FROM persons").fetchall()
    upgraded.close()


def test_failed_migration_rolls_back_to_the_old_version(tmp_path, monkeypatch):
    path = tmp_path / "catalog.sqlite"
    Catalog(path).close()
    broken = "CREATE TABLE half_done (x INTEGER); THIS IS NOT SQL;"
    monkeypatch.setattr("engine.catalog.db.MIGRATIONS", schema.MIGRATIONS + (broken,))
    monkeypatch.setattr("engine.catalog.db.LATEST_VERSION", LATEST_VERSION + 1)
    with pytest.raises(sqlite3.OperationalError):
        Catalog(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "half_done" not in tables
    conn.close()


@pytest.mark.parametrize("ours, sql, error, match", [
    (True, "PRAGMA user_version = 99", SchemaTooNewError, "newer FaceLab"),
    # Another program's SQLite file: not migrated into, not even switched to WAL.
    (False, "CREATE TABLE contacts (name TEXT)", CatalogError, "not a FaceLab catalog.*contacts"),
])
def test_catalog_from_a_newer_facelab_or_another_program_is_refused_untouched(
        tmp_path, ours, sql, error, match):
    path = tmp_path / "catalog.sqlite"
    if ours:
        Catalog(path).close()
    conn = sqlite3.connect(path)
    conn.execute(sql)
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(error, match=match):
        Catalog(path)
    assert path.read_bytes() == before


def test_damaged_catalog_gives_a_clear_error(tmp_path):
    path = tmp_path / "catalog.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CatalogError, match="damaged"):
        Catalog(path)


def test_readers_never_see_half_a_relabel_while_a_writer_commits(tmp_path):
    """Each write relabels a group of faces in one transaction; readers on their own
    connections (other threads) must always see the whole group with one person."""
    path = tmp_path / "catalog.sqlite"
    writer = Catalog(path)
    faces = _add_photo_with_faces(writer, 20)
    people = [writer.ensure_person(n).id for n in ("A", "B")]
    writer.set_labels(faces, people[0])
    stop = threading.Event()
    errors: list[BaseException] = []
    reads = [0]

    def reader():
        cat = Catalog(path)
        try:
            while not stop.is_set():
                labels = {f.person_id for f in cat.faces()}
                assert len(labels) == 1, labels
                reads[0] += 1
        except BaseException as exc:  # reported to the main thread
            errors.append(exc)
        finally:
            cat.close()

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(150):
        writer.set_labels(faces, people[i % 2])
    stop.set()
    for t in threads:
        t.join()
    writer.close()
    assert not errors, errors[0]
    assert reads[0] > 10


def test_face_ids_and_faces_by_ids_follow_the_filters(catalog):
    faces = _add_photo_with_faces(catalog, 3)
    whole = catalog.add_photo(path="w.jpg", sha256="sha-w", size_bytes=1, width=10, height=10,
                              format="JPEG", exif_orientation=1, import_person_id=None)
    [whole_face] = catalog.store_faces(whole, [NewFace((0, 0, 10, 10), None, None, True,
                                                       "crops/w.jpg", "thumbs/w.jpg")], None)
    alice = catalog.ensure_person("Alice")
    catalog.set_labels(faces[:1], alice.id)
    catalog.set_rejected([faces[2]])

    assert catalog.face_ids() == [faces[0], faces[1], whole_face]
    assert catalog.face_ids(person_id=alice.id) == [faces[0]]
    assert catalog.face_ids(unlabelled=True) == [faces[1], whole_face]
    assert catalog.face_ids(whole_image=True) == [whole_face]
    assert catalog.face_ids(include_rejected=True) == faces + [whole_face]
    by_id = {f.id: f for f in catalog.faces_by_ids([faces[2], faces[0], 10_000])}
    assert set(by_id) == {faces[0], faces[2]}
    assert by_id[faces[0]].person_id == alice.id and by_id[faces[2]].rejected


def test_merge_persons_moves_faces_and_keeps_older_actions_undoable(catalog):
    faces = _add_photo_with_faces(catalog, 3)
    alice, alicia, bob = (catalog.ensure_person(n) for n in ("Alice", "Alicia", "Bob"))
    catalog.set_labels(faces[:2], alicia.id)
    catalog.set_labels(faces[2:], bob.id)

    moved = catalog.merge_persons(alicia.id, alice.id)

    assert moved == tuple(faces[:2])
    assert [p.name for p in catalog.persons()] == ["Alice", "Bob"]
    assert catalog.person_counts() == {"Alice": 2, "Bob": 1}
    catalog.undo()  # Bob's label
    catalog.undo()  # the Alicia label, now rewritten to Alice: back to unlabelled
    assert [f.person_id for f in catalog.faces()] == [None, None, None]
    catalog.redo()
    assert [f.person_id for f in catalog.faces()] == [alice.id, alice.id, None]
    with pytest.raises(CatalogError):
        catalog.merge_persons(alice.id, alice.id)


def test_delete_person_unlabels_faces_and_history_stays_consistent(catalog):
    faces = _add_photo_with_faces(catalog, 2)
    alice, bob = catalog.ensure_person("Alice"), catalog.ensure_person("Bob")
    catalog.set_labels(faces, alice.id)
    catalog.set_labels(faces[:1], bob.id)

    assert catalog.delete_person(alice.id) == (faces[1],)

    assert [f.person_id for f in catalog.faces()] == [bob.id, None]
    catalog.undo()  # Bob -> what was Alice, now unlabelled
    assert [f.person_id for f in catalog.faces()] == [None, None]
    catalog.redo()
    assert [f.person_id for f in catalog.faces()] == [bob.id, None]
