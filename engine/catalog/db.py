"""SQLite connection handling: WAL, foreign keys, per-thread connections, migrations.

Each thread gets its own connection (sqlite3 connections must not cross threads);
WAL lets readers run while one writer commits. Writes go through :func:`write`,
which takes the write lock up front (BEGIN IMMEDIATE) so a transaction never fails
half-way on a lock upgrade.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Iterator

from engine.catalog.schema import LATEST_VERSION, MIGRATIONS

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000


class CatalogError(Exception):
    """A catalog problem explained in words a user can act on."""


class SchemaTooNewError(CatalogError):
    pass


def _connect(path: Path, readonly: bool, writing: bool) -> sqlite3.Connection:
    uri = f"{path.resolve().as_uri()}?mode={'ro' if readonly else 'rwc'}"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None,
                               timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=True)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        # A project folder may come from anyone: SQL stored in the file (triggers, views,
        # defaults) must not call functions with side effects under FaceLab's privileges.
        conn.execute("PRAGMA trusted_schema = OFF")
        if writing:
            _prepare_for_writing(conn)
        return conn
    except sqlite3.DatabaseError as exc:
        raise _damaged(path, exc) from exc


def _prepare_for_writing(conn: sqlite3.Connection) -> None:
    # WAL is written into the file: only done once the file is known to be a catalog
    # this FaceLab may write (see Database._migrate).
    conn.execute("PRAGMA journal_mode = WAL")
    # NORMAL is durable across application crashes in WAL mode; only a power
    # loss can drop the last transactions, never corrupt the file.
    conn.execute("PRAGMA synchronous = NORMAL")


def _damaged(path: Path, exc: sqlite3.DatabaseError) -> CatalogError:
    return CatalogError(f"{path}: cannot open the catalog ({exc}). The file may be "
                        "damaged; restore it from a backup or create a new project.")


class Database:
    """Owns the catalog file; hands each thread its own connection."""

    def __init__(self, path: Path, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._writable = False  # set once _migrate has checked the file is ours
        try:
            self._migrate()
        except BaseException:
            self.close()  # a refused file is not kept open
            raise

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, self.readonly, writing=self._writable)
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One atomic write transaction: committed on exit, rolled back on error."""
        if self.readonly:
            raise CatalogError(f"{self.path}: the project is open read-only")
        conn = self.conn
        if conn.in_transaction:  # nested use joins the outer transaction
            yield conn
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise _explain_write_error(self.path, exc) from exc
        try:
            yield conn
        except BaseException as exc:
            _rollback(conn)
            # A full disk (or a read-only/locked file) can strike at any statement, not
            # only at BEGIN/COMMIT: the user gets the same one-line reason either way.
            if isinstance(exc, sqlite3.OperationalError) and _is_environmental(exc):
                raise _explain_write_error(self.path, exc) from exc
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            _rollback(conn)
            raise _explain_write_error(self.path, exc) from exc

    def close(self) -> None:
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()

    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        try:
            version = self.schema_version()
        except sqlite3.DatabaseError as exc:
            raise CatalogError(f"{self.path}: not a FaceLab catalog or the file is damaged "
                               f"({exc}).") from exc
        if version == 0:
            self._check_foreign_or_empty()
        if version < 0:
            raise CatalogError(f"{self.path}: not a FaceLab catalog (catalog version {version}); "
                               "it was not changed.")
        self._check_no_stored_code()
        if version > LATEST_VERSION:
            raise SchemaTooNewError(
                f"{self.path}: this project was made by a newer FaceLab (catalog version "
                f"{version}, this FaceLab knows up to {LATEST_VERSION}). Update FaceLab to "
                "open it; the project was not changed.")
        if not self.readonly:
            try:
                _prepare_for_writing(self.conn)
            except sqlite3.DatabaseError as exc:
                raise _damaged(self.path, exc) from exc
            self._writable = True
        if version == LATEST_VERSION:
            return
        if self.readonly:
            raise CatalogError(f"{self.path}: the catalog needs an upgrade "
                               f"(version {version} -> {LATEST_VERSION}) but is read-only")
        for target in range(version + 1, LATEST_VERSION + 1):
            self._apply_migration(target)

    def _check_foreign_or_empty(self) -> None:
        """A version-0 file is a new catalog only if it is empty: FaceLab sets the version
        in the same transaction as it creates the tables."""
        tables = [r[0] for r in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name LIMIT 5")]
        if tables:
            raise CatalogError(f"{self.path}: not a FaceLab catalog (an SQLite file of "
                               f"another program, with tables {', '.join(tables)}); it was "
                               "not changed.")
        if self.readonly:
            raise CatalogError(f"{self.path}: the catalog is empty (the project was never "
                               "fully created, or the file was emptied)")

    def _check_no_stored_code(self) -> None:
        """Refuse triggers and views: FaceLab's schema has none, so any in the file were put
        there by someone else, and a trigger runs on FaceLab's own writes."""
        rows = self.conn.execute(
            "SELECT type, name FROM sqlite_master WHERE type IN ('trigger', 'view') "
            "ORDER BY type, name LIMIT 5").fetchall()
        if rows:
            found = ", ".join(f"{row[0]} {row[1]!r}" for row in rows)
            raise CatalogError(f"{self.path}: refused, the catalog holds SQL that FaceLab did not "
                               f"write ({found}); it may have been crafted to run on opening. "
                               "The project was not changed.")

    def _apply_migration(self, target: int) -> None:
        conn = self.conn
        statements = [s for s in _split_sql(MIGRATIONS[target - 1]) if s.strip()]
        with self.write():
            for statement in statements:
                conn.execute(statement)
            # user_version cannot be bound as a parameter; target is an int we control.
            conn.execute(f"PRAGMA user_version = {int(target)}")
        log.info("catalog %s migrated to version %d", self.path, target)


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements (executescript would commit on its own).

    Pieces are cut at every ';' and glued back until SQLite calls them complete, so a
    ';' inside a string literal or a trigger body does not split a statement.
    """
    statements, current = [], ""
    for piece in script.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            statements.append(current)
            current = ""
    if current.strip(" \n\t;"):
        statements.append(current)
    return statements


def _rollback(conn: sqlite3.Connection) -> None:
    # SQLite rolls some failed transactions back by itself (a full disk, an I/O error);
    # a second ROLLBACK would then raise and hide the real error.
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def _is_environmental(exc: sqlite3.OperationalError) -> bool:
    """The disk or another program is at fault, not FaceLab's SQL."""
    text = str(exc).lower()
    return any(word in text for word in ("full", "readonly", "read-only", "locked", "busy",
                                         "disk i/o"))


def _explain_write_error(path: Path, exc: sqlite3.OperationalError) -> CatalogError:
    text = str(exc).lower()
    if "readonly" in text or "read-only" in text:
        return CatalogError(f"{path}: cannot save changes, the project is read-only ({exc})")
    if "full" in text:
        return CatalogError(f"{path}: cannot save changes, the disk is full ({exc}); "
                            "nothing already saved was lost")
    if "locked" in text or "busy" in text:
        return CatalogError(f"{path}: the project is busy in another program ({exc}); "
                            "try again")
    if "disk i/o" in text:
        return CatalogError(f"{path}: cannot save changes, the disk failed to write ({exc}); "
                            "nothing already saved was lost")
    return CatalogError(f"{path}: cannot save changes ({exc})")
