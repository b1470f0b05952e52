"""The node's data directory: a SQLite journal of events plus snapshots (standard library only).

A node started with ``--data DIR`` keeps its truth in ``DIR/node.db`` (SQLite,
write-ahead log).  Every change it acknowledges is an *event* appended to the
journal before the reply is sent; every `Store.snapshot_every` events the
node's whole image is written as a snapshot and the journal before it is
deleted.  A restart loads the newest snapshot and replays the events after it.

The format is generic, so new kinds of change (rollbacks, prepared releases...)
are new event kinds, not a new format:

- ``meta(key, value)``: ``format`` (`FORMAT`), ``schema`` (`SCHEMA`), the
  node's random ``node_id``, ``created``;
- ``journal(seq, kind, body)``: events, ``body`` a JSON object;
- ``snapshots(seq, body)``: the node's image (a JSON object) after event
  ``seq``; only the newest is kept;
- ``versions(n, body)``: every version the node ever installed (never
  truncated: the node keeps only the last few in memory).

Durability (``--durability``):

- ``sync``: each event is committed with ``synchronous=FULL``: the journal is
  on disk (fsync) before the reply.  Nothing acknowledged is lost, even by a
  power cut.
- ``group``: each event is committed (written to the operating system) before
  the reply, and a background thread fsyncs the journal every
  `Store.sync_interval` seconds (0.05 by default).  A crash of the node's
  process loses nothing acknowledged; a power cut or kernel crash loses at
  most the events acknowledged in the last ``sync_interval`` seconds (plus
  the time of one fsync).

A directory that is not a node's (other files, another database, a newer
schema, a damaged file) is refused with `StoreError`, never reset.  One node at
a time: the directory is locked (``flock``) while a node uses it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import sqlite3
import threading
import time
from typing import Any

__all__ = ["Store", "StoreError", "FORMAT", "SCHEMA", "DURABILITY"]

FORMAT = "hotswap-cat node data"
SCHEMA = 1
"""Version of the tables' layout and of the event bodies; a node refuses a newer one."""
DURABILITY = ("sync", "group")
DB = "node.db"
LOCK = "node.lock"
_OURS = {DB, DB + "-wal", DB + "-shm", DB + "-journal", LOCK}


class StoreError(Exception):
    """The data directory cannot be used (foreign, damaged, newer, locked) or a write failed."""


class Store:
    """One node's data directory (see the module's doc).  Use from one thread at a time."""

    def __init__(self, path: str, durability: str = "sync", snapshot_every: int = 10_000,
                 sync_interval: float = 0.05) -> None:
        if durability not in DURABILITY:
            raise StoreError(f"durability is one of {', '.join(DURABILITY)}, not {durability!r}")
        self.path, self.durability = path, durability
        self.snapshot_every, self.sync_interval = snapshot_every, sync_interval
        self.since_snapshot = 0
        self.snapshot_seconds: list[float] = []
        """Seconds each snapshot taken by this process took (the last 100)."""
        self._dirty = False
        self._stop = threading.Event()
        self._syncer: threading.Thread | None = None
        if os.path.exists(path) and not os.path.isdir(path):
            raise StoreError(f"{path} exists and is not a directory")
        os.makedirs(path, mode=0o700, exist_ok=True)
        others = sorted(set(os.listdir(path)) - _OURS)
        if others and not os.path.exists(os.path.join(path, DB)):
            raise StoreError(f"{path} is not a node's data directory (it holds {', '.join(others[:5])}); "
                             "give an empty or new directory")
        self._lock_fd: int | None = os.open(os.path.join(path, LOCK), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock_fd)
            raise StoreError(f"{path} is in use by another node (its lock is held)") from None
        db_path = os.path.join(path, DB)
        if not os.path.exists(db_path):  # private: SQLite gives its -wal and -shm files the same mode
            os.close(os.open(db_path, os.O_WRONLY | os.O_CREAT, 0o600))
        try:
            self._db = sqlite3.connect(os.path.join(path, DB), isolation_level=None, check_same_thread=False)
            self._open()
        except sqlite3.DatabaseError as e:
            self.close()
            raise StoreError(f"{os.path.join(path, DB)} is damaged or not a node's database: {e}") from None
        except StoreError:
            self.close()
            raise

    def _open(self) -> None:
        db = self._db
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise StoreError(f"cannot use write-ahead logging in {self.path} (journal mode {mode})")
        db.execute(f"PRAGMA synchronous={'FULL' if self.durability == 'sync' else 'NORMAL'}")
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:  # a new database (or one whose creation never committed)
            with self._transaction():
                db.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)")
                db.execute("CREATE TABLE journal(seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, body TEXT NOT NULL)")
                db.execute("CREATE TABLE snapshots(seq INTEGER PRIMARY KEY, body TEXT NOT NULL)")
                db.execute("CREATE TABLE versions(n INTEGER PRIMARY KEY, body TEXT NOT NULL)")
                db.executemany("INSERT INTO meta VALUES (?, ?)", [
                    ("format", FORMAT), ("schema", str(SCHEMA)), ("node_id", secrets.token_hex(16)),
                    ("created", str(time.time()))])
            tables = {"meta", "journal", "snapshots", "versions"}
        if not {"meta", "journal", "snapshots", "versions"} <= tables:
            raise StoreError(f"{self.path}/{DB} is not a node's database (its tables: {', '.join(sorted(tables))})")
        meta = dict(db.execute("SELECT key, value FROM meta"))
        if meta.get("format") != FORMAT:
            raise StoreError(f"{self.path}/{DB} is not a node's database (format {meta.get('format')!r})")
        if not meta.get("schema", "").isdigit() or int(meta["schema"]) > SCHEMA:
            raise StoreError(f"{self.path} was written with schema {meta.get('schema')!r}; this node reads schema "
                             f"{SCHEMA} and older: run a newer node")
        check = db.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise StoreError(f"{self.path}/{DB} is damaged: {check}")
        self.node_id = meta["node_id"]
        self.schema = int(meta["schema"])
        if self.durability == "group":
            self._syncer = threading.Thread(target=self._sync_loop, name="cam-store-sync", daemon=True)
            self._syncer.start()

    @contextlib.contextmanager
    def _transaction(self) -> Any:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- reading

    def load(self) -> tuple[dict[str, Any] | None, list[tuple[int, str, dict[str, Any]]]]:
        """The newest snapshot (``None`` for a new directory) and the events after it, in order."""
        try:
            row = self._db.execute("SELECT seq, body FROM snapshots ORDER BY seq DESC LIMIT 1").fetchone()
            if row is None:
                if self._db.execute("SELECT count(*) FROM journal").fetchone()[0]:
                    raise StoreError(f"{self.path}: the journal has events but there is no snapshot to start from")
                return None, []
            seq, body = row
            events = [(s, k, json.loads(b)) for s, k, b in
                      self._db.execute("SELECT seq, kind, body FROM journal WHERE seq > ? ORDER BY seq", (seq,))]
            self.since_snapshot = len(events)
            return json.loads(body), events
        except (sqlite3.DatabaseError, ValueError) as e:
            raise StoreError(f"{self.path}/{DB} cannot be read: {e}") from None

    def versions(self, since: int = 0) -> list[dict[str, Any]]:
        """Every recorded version from number `since` on (the full history)."""
        return [json.loads(b) for (b,) in self._db.execute("SELECT body FROM versions WHERE n >= ? ORDER BY n",
                                                           (since,))]

    # -- writing

    def append(self, kind: str, body: dict[str, Any], version: dict[str, Any] | None = None) -> int:
        """Append one event (and a version record, with an upgrade) in one transaction; its sequence number.

        When this returns, the event is committed with the durability chosen; on error nothing is recorded.
        """
        text = json.dumps(body, separators=(",", ":"))
        try:
            with self._transaction():
                cur = self._db.execute("INSERT INTO journal(kind, body) VALUES (?, ?)", (kind, text))
                if version is not None:
                    self._db.execute("INSERT INTO versions(n, body) VALUES (?, ?)",
                                     (version["number"], json.dumps(version, separators=(",", ":"))))
        except sqlite3.Error as e:
            raise StoreError(f"cannot write the journal in {self.path}: {e}") from None
        self._dirty = True
        self.since_snapshot += 1
        return int(cur.lastrowid or 0)

    @property
    def snapshot_due(self) -> bool:
        return self.since_snapshot >= self.snapshot_every

    def snapshot(self, image: dict[str, Any], versions: list[dict[str, Any]] = ()) -> float:  # type: ignore[assignment]
        """Write `image` as the state after the last event, delete older snapshots and events; seconds taken.

        `versions` are version records to store too (the initial version, when a node is created).
        """
        t0 = time.perf_counter()
        text = json.dumps(image, separators=(",", ":"))
        try:
            with self._transaction():
                seq = self._db.execute("SELECT coalesce(max(seq), 0) FROM journal").fetchone()[0]
                last = self._db.execute("SELECT coalesce(max(seq), 0) FROM snapshots").fetchone()[0]
                seq = max(seq, last)
                self._db.execute("INSERT OR REPLACE INTO snapshots(seq, body) VALUES (?, ?)", (seq, text))
                self._db.execute("DELETE FROM snapshots WHERE seq < ?", (seq,))
                # Keep the last event: its sequence number keeps later events numbered after the snapshot.
                self._db.execute("DELETE FROM journal WHERE seq < ?", (seq,))
                for v in versions:
                    self._db.execute("INSERT OR REPLACE INTO versions(n, body) VALUES (?, ?)",
                                     (v["number"], json.dumps(v, separators=(",", ":"))))
        except sqlite3.Error as e:
            raise StoreError(f"cannot write a snapshot in {self.path}: {e}") from None
        self._dirty = True
        self.since_snapshot = 0
        seconds = time.perf_counter() - t0
        self.snapshot_seconds = [*self.snapshot_seconds[-99:], seconds]
        return seconds

    def journal_length(self) -> int:
        """Events after the newest snapshot (what a restart replays)."""
        return self.since_snapshot

    # -- group durability

    def _sync_loop(self) -> None:
        wal = os.path.join(self.path, DB + "-wal")
        while not self._stop.wait(self.sync_interval):
            if self._dirty:
                self._dirty = False
                self.sync_now(wal)

    def sync_now(self, wal: str | None = None) -> None:
        """fsync the write-ahead log (what ``group`` durability does every ``sync_interval`` seconds)."""
        with contextlib.suppress(OSError):
            fd = os.open(wal or os.path.join(self.path, DB + "-wal"), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def close(self) -> None:
        """Stop the sync thread, sync, close the database and release the directory's lock."""
        self._stop.set()
        if self._syncer is not None:
            self._syncer.join(5)
            self.sync_now()
        db = getattr(self, "_db", None)
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                db.close()
            self._db = None  # type: ignore[assignment]
        fd = getattr(self, "_lock_fd", None)
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
            self._lock_fd = None
