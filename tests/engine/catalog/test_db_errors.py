"""The catalog file under bad conditions: an emptied file, and a write that fails
half-way (a full disk), each one clear error with nothing half-applied. (A newer or a
foreign catalog file: test_catalog.py.)"""

import sqlite3

import pytest

from engine.catalog import Catalog, CatalogError


def test_an_empty_catalog_read_only_says_so(tmp_path):
    path = tmp_path / "catalog.sqlite"
    path.write_bytes(b"")
    with pytest.raises(CatalogError, match="catalog is empty"):
        Catalog(path, readonly=True)


def test_disk_full_in_the_middle_of_a_write_is_explained_and_rolled_back(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    conn = catalog.db.conn
    conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")
    with pytest.raises(CatalogError, match="disk is full.*nothing already saved was lost"):
        with catalog.db.write() as tx:
            tx.executemany("INSERT INTO persons(name, created_at) VALUES (?, 0)",
                           [(f"person {i} " + "x" * 200,) for i in range(2_000)])
    assert not conn.in_transaction
    assert catalog.persons() == []
    catalog.close()


def test_programming_errors_are_not_disguised(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        with catalog.db.write() as tx:
            tx.execute("INSERT INTO no_such_table VALUES (1)")
    catalog.close()
