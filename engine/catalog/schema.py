"""Catalog schema as an ordered list of migrations.

The schema version lives in ``PRAGMA user_version``. Migration N takes a catalog at
version N-1 to version N; each runs inside one transaction, so a crash mid-migration
leaves the catalog at the old version. Never edit a released migration: append one.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: photos, faces, persons, labels with undoable history, splits, skipped files.
    """
    CREATE TABLE photos (
        id INTEGER PRIMARY KEY,
        -- POSIX path, relative to the project folder when the photo lives inside it,
        -- otherwise absolute: a project folder can be moved with its photos.
        path TEXT NOT NULL UNIQUE,
        sha256 TEXT NOT NULL UNIQUE,
        size_bytes INTEGER NOT NULL,
        width INTEGER NOT NULL,          -- after EXIF orientation
        height INTEGER NOT NULL,
        format TEXT NOT NULL,
        exif_orientation INTEGER NOT NULL DEFAULT 1,
        -- pending: imported, not yet cropped; done: faces found; no_face: kept as a
        -- whole-image sample; error: could not be decoded; missing: file vanished.
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'done', 'no_face', 'error', 'missing')),
        error TEXT,
        -- the person named by the import (folder name); given to the most plausible face
        import_person_id INTEGER REFERENCES persons(id) ON DELETE SET NULL,
        imported_at REAL NOT NULL
    );
    CREATE INDEX photos_status ON photos(status);

    CREATE TABLE persons (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        created_at REAL NOT NULL
    );

    CREATE TABLE faces (
        id INTEGER PRIMARY KEY,
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        face_index INTEGER NOT NULL,     -- order within the photo
        x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,
        landmarks TEXT,                  -- JSON [[x, y] * 5] in photo pixels, or NULL
        score REAL,                      -- detector confidence; NULL for whole-image samples
        whole_image INTEGER NOT NULL DEFAULT 0,  -- 1: "no face found", the whole photo
        rejected INTEGER NOT NULL DEFAULT 0,     -- 1: the user marked it "not a face"
        crop_path TEXT NOT NULL,         -- relative to the project folder
        thumb_path TEXT NOT NULL,
        UNIQUE (photo_id, face_index)
    );
    CREATE INDEX faces_photo ON faces(photo_id);

    CREATE TABLE face_labels (
        face_id INTEGER PRIMARY KEY REFERENCES faces(id) ON DELETE CASCADE,
        person_id INTEGER NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
        source TEXT NOT NULL CHECK (source IN ('import', 'user', 'model')),
        updated_at REAL NOT NULL
    );
    CREATE INDEX face_labels_person ON face_labels(person_id);

    -- One row per user-visible action (a relabel of 1 or 1,000 faces is one action).
    -- Undone actions stay until a new action is recorded, which clears the redo stack.
    CREATE TABLE label_actions (
        id INTEGER PRIMARY KEY,
        description TEXT NOT NULL,
        created_at REAL NOT NULL,
        undone INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE label_changes (
        action_id INTEGER NOT NULL REFERENCES label_actions(id) ON DELETE CASCADE,
        face_id INTEGER NOT NULL,
        old_person_id INTEGER, old_source TEXT,
        new_person_id INTEGER, new_source TEXT
    );
    CREATE INDEX label_changes_action ON label_changes(action_id);

    CREATE TABLE splits (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        seed INTEGER NOT NULL,
        test_fraction REAL NOT NULL,
        val_fraction REAL NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE split_members (
        split_id INTEGER NOT NULL REFERENCES splits(id) ON DELETE CASCADE,
        face_id INTEGER NOT NULL REFERENCES faces(id) ON DELETE CASCADE,
        subset TEXT NOT NULL CHECK (subset IN ('train', 'val', 'test')),
        PRIMARY KEY (split_id, face_id)
    );

    -- Files that could not be imported, with the reason; cleared when a later import succeeds.
    CREATE TABLE skipped_files (
        path TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        at REAL NOT NULL
    );
    """,
    # 2: training runs with per-epoch metrics and evaluations; suspicious labels.
    """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        arch TEXT NOT NULL,
        split_id INTEGER REFERENCES splits(id) ON DELETE SET NULL,
        config TEXT NOT NULL,            -- JSON of TrainConfig.to_dict()
        persons TEXT NOT NULL,           -- JSON list: the model's output order
        -- interrupted: was running when its process died; it can be resumed.
        status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'early_stopped',
                                               'cancelled', 'failed', 'interrupted')),
        message TEXT,
        run_dir TEXT NOT NULL,           -- relative to the project folder
        sweep_id TEXT,                   -- runs trained by one hyperparameter sweep
        pid INTEGER,                     -- the process training it, while running
        created_at REAL NOT NULL,
        finished_at REAL,
        best_epoch INTEGER,
        best_val_loss REAL,
        best_val_acc REAL
    );
    CREATE TABLE run_epochs (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        epoch INTEGER NOT NULL,
        train_loss REAL, train_acc REAL, val_loss REAL, val_acc REAL,
        lr REAL, seconds REAL, images_per_sec REAL,
        PRIMARY KEY (run_id, epoch)
    );
    CREATE TABLE run_evaluations (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        subset TEXT NOT NULL CHECK (subset IN ('val', 'test')),
        report TEXT NOT NULL,            -- JSON of EvaluationReport.to_dict()
        created_at REAL NOT NULL,
        PRIMARY KEY (run_id, subset)
    );
    CREATE TABLE label_issues (
        face_id INTEGER PRIMARY KEY REFERENCES faces(id) ON DELETE CASCADE,
        score REAL NOT NULL,             -- higher = more likely mislabelled
        given_person_id INTEGER REFERENCES persons(id) ON DELETE CASCADE,
        suggested_person_id INTEGER REFERENCES persons(id) ON DELETE SET NULL,
        status TEXT NOT NULL DEFAULT 'suspicious'
            CHECK (status IN ('suspicious', 'accepted', 'rejected')),
        found_at REAL NOT NULL
    );
    """,
    # 3: project settings that later steps must repeat, e.g. the crop settings used at
    # import, which prediction must use again to cut faces the way the model saw them.
    """
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,             -- JSON
        updated_at REAL NOT NULL
    );
    """,
    # 4: every change of the library is one undoable action, not only labels: an action
    # may also rename, remove or bring back persons, move photos' import person and mark
    # faces "not a face" (JSON in label_actions.extra). Persons keep their number key (1-9)
    # when others are added; existing persons keep the keys they had (alphabetical).
    """
    ALTER TABLE label_actions ADD COLUMN extra TEXT;
    ALTER TABLE persons ADD COLUMN number_key INTEGER;
    -- name is declared COLLATE NOCASE, so this ranks the names as the list showed them
    UPDATE persons SET number_key = (
        SELECT COUNT(*) FROM persons AS earlier WHERE earlier.name <= persons.name)
    WHERE (SELECT COUNT(*) FROM persons AS earlier WHERE earlier.name <= persons.name) <= 9;
    CREATE UNIQUE INDEX persons_number_key ON persons(number_key) WHERE number_key IS NOT NULL;
    """,
    # 5: the catalog ids of a run's persons, in the model's output order, so that a run
    # still scores the right faces after a person is renamed (names alone would lose
    # them). NULL for runs recorded before: those are matched by name.
    """
    ALTER TABLE runs ADD COLUMN person_ids TEXT;
    """,
)

LATEST_VERSION = len(MIGRATIONS)
