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


def test_merge_is_one_undoable_action_and_undo_takes_exactly_it(catalog):
    faces = _add_photo_with_faces(catalog, 3)
    photo = catalog.faces()[0].photo_id
    alice, alicia, bob = (catalog.ensure_person(n) for n in ("Alice", "Alicia", "Bob"))
    catalog.set_import_person(photo, alicia.id)
    catalog.set_labels(faces[:2], alicia.id)
    catalog.set_labels(faces[2:], bob.id)

    merge = catalog.merge_persons(alicia.id, alice.id)

    assert merge.face_ids == tuple(faces[:2]) and merge.persons_changed
    assert merge.description == "Merge Alicia into Alice"
    assert [p.name for p in catalog.persons()] == ["Alice", "Bob"]
    assert catalog.person_counts() == {"Alice": 2, "Bob": 1}
    assert catalog.photo(photo).import_person_id == alice.id
    assert catalog.history()[0][1] == "Merge Alicia into Alice"

    undone = catalog.undo()  # the merge, not the older Bob label
    assert undone.description == "Merge Alicia into Alice" and undone.persons_changed
    assert catalog.person_counts() == {"Alice": 0, "Alicia": 2, "Bob": 1}
    assert catalog.person_by_name("Alicia") == alicia  # same id and number key
    assert catalog.photo(photo).import_person_id == alicia.id
    catalog.undo()  # Bob's label
    catalog.undo()  # Alicia's label
    assert [f.person_id for f in catalog.faces()] == [None, None, None]
    catalog.redo()
    catalog.redo()
    catalog.redo()  # the merge again
    assert catalog.person_counts() == {"Alice": 2, "Bob": 1}
    assert [f.person_id for f in catalog.faces()] == [alice.id, alice.id, bob.id]
    with pytest.raises(CatalogError):
        catalog.merge_persons(alice.id, alice.id)


def test_delete_person_is_undoable_with_their_faces(catalog):
    faces = _add_photo_with_faces(catalog, 2)
    alice, bob = catalog.ensure_person("Alice"), catalog.ensure_person("Bob")
    catalog.set_labels(faces, alice.id)
    catalog.set_labels(faces[:1], bob.id)

    deleted = catalog.delete_person(alice.id)

    assert deleted.face_ids == (faces[1],) and deleted.description == "Delete Alice"
    assert [f.person_id for f in catalog.faces()] == [bob.id, None]
    # A person created meanwhile never takes the deleted person's id (the undo needs it).
    carol = catalog.ensure_person("Carol")
    assert carol.id not in (alice.id, bob.id)
    assert carol.number_key == alice.number_key  # the key was free
    assert catalog.undo().description == "Delete Alice"
    back = catalog.person_by_name("Alice")
    assert back.id == alice.id and back.number_key == 3  # Carol keeps key 1
    assert [f.person_id for f in catalog.faces()] == [bob.id, alice.id]
    assert catalog.faces()[1].label_source == "user"
    catalog.undo()  # Bob's label: back to Alice
    assert [f.person_id for f in catalog.faces()] == [alice.id, alice.id]
    catalog.redo()
    catalog.redo()
    assert catalog.person_by_name("Alice") is None
    assert [f.person_id for f in catalog.faces()] == [bob.id, None]


def test_rename_and_not_a_face_are_undoable_actions(catalog):
    faces = _add_photo_with_faces(catalog, 2)
    alice = catalog.ensure_person("Alice")
    catalog.rename_person(alice.id, "Alicia")
    catalog.set_rejected([faces[0]])
    assert [d for _, d, _ in catalog.history()] == ["Mark 1 face as not a face",
                                                     "Rename Alice to Alicia"]
    change = catalog.undo()
    assert change.rejected_face_ids == (faces[0],) and not catalog.face(faces[0]).rejected
    assert catalog.undo().persons_changed
    assert catalog.persons() == [alice]
    catalog.redo()
    catalog.redo()
    assert catalog.person_by_name("Alicia").id == alice.id and catalog.face(faces[0]).rejected
    assert catalog.set_rejected([faces[0]]) is None  # nothing changed: no action


def test_undo_that_would_clash_with_a_newer_name_says_so_and_changes_nothing(catalog):
    faces = _add_photo_with_faces(catalog, 1)
    alice = catalog.ensure_person("Alice")
    catalog.set_labels(faces, alice.id)
    catalog.delete_person(alice.id)
    catalog.ensure_person("alice")  # not an action: the delete is still the one to undo
    with pytest.raises(CatalogError, match="another person is called alice"):
        catalog.undo()
    assert catalog.history()[0] == (catalog.history()[0][0], "Delete Alice", False)
    assert catalog.face(faces[0]).person_id is None


def test_the_person_name_rule_is_the_engines(catalog):
    alice = catalog.ensure_person("  Alice ")
    assert alice.name == "Alice"
    for bad in ("", "   ", "Ann\nBell", "x" * 300):
        with pytest.raises(CatalogError):
            catalog.rename_person(alice.id, bad)
        with pytest.raises(CatalogError):
            catalog.ensure_person(bad)
    assert [p.name for p in catalog.persons()] == ["Alice"]


def test_number_keys_stay_with_their_person(catalog):
    names = ["Zoe", "Mia", "Bob"]
    keys = {n: catalog.ensure_person(n).number_key for n in names}
    assert keys == {"Zoe": 1, "Mia": 2, "Bob": 3}  # creation order
    catalog.ensure_person("Adam")  # first in the alphabet: takes no one's key
    assert {p.name: p.number_key for p in catalog.persons()} == {**keys, "Adam": 4}
    mia = catalog.person_by_name("Mia")
    catalog.delete_person(mia.id)
    assert catalog.ensure_person("Eve").number_key == 2  # the free key, others untouched
    catalog.set_number_key(catalog.person_by_name("Adam").id, 1)  # pinned by the user
    assert {p.name: p.number_key for p in catalog.persons()} == {
        "Adam": 1, "Bob": 3, "Eve": 2, "Zoe": 4}
    for n in range(6):
        catalog.ensure_person(f"P{n}")
    assert sorted(p.number_key for p in catalog.persons() if p.number_key) == list(range(1, 10))
    assert catalog.person_by_name("P5").number_key is None  # only nine keys


def test_the_number_key_migration_gives_existing_persons_the_keys_they_had(tmp_path, monkeypatch):
    """Before persons.number_key the keys followed the alphabet; an upgrade keeps them."""
    path = tmp_path / "catalog.sqlite"
    with monkeypatch.context() as patch:
        patch.setattr("engine.catalog.db.MIGRATIONS", schema.MIGRATIONS[:3])
        patch.setattr("engine.catalog.db.LATEST_VERSION", 3)
        old = Catalog(path)
        for name in ("zoe", "Bob", "mia", *(f"p{n}" for n in range(8))):
            old.db.conn.execute("INSERT INTO persons(name, created_at) VALUES (?, 0)", (name,))
        old.close()
    upgraded = Catalog(path)
    keys = {p.name: p.number_key for p in upgraded.persons()}
    upgraded.close()
    assert [name for name, key in sorted(keys.items(), key=lambda kv: kv[1] or 99)
            if key] == ["Bob", "mia", "p0", "p1", "p2", "p3", "p4", "p5", "p6"]
    assert keys["zoe"] is None and keys["p7"] is None


def test_which_runs_can_be_resumed_is_one_engine_rule(catalog):
    from engine.catalog.runs import resume_refusal

    for status in ("cancelled", "interrupted", "failed"):
        assert resume_refusal("r", status) is None
    assert "already finished (stopped early)" in resume_refusal("r", "early_stopped")
    assert "training now" in resume_refusal("r", "running")
    catalog.runs.create(run_id="r1", arch="customcnn1", split_id=None, config={},
                        persons=["a"], run_dir="runs/r1")
    catalog.runs.finish("r1", "failed", best_epoch=None, best_val_loss=None, best_val_acc=None)
    assert catalog.runs.get("r1").resumable
