"""A bounded, ordered message queue on disk (SQLite), for MQTT messages not yet acknowledged.

Every message goes through it, connected or not: it is the one record of what the broker has
not confirmed, so nothing is lost when the broker goes away mid-flight or the server restarts.
Bounds are on messages and bytes; beyond them the *oldest* messages are dropped (the newest
state matters most) and counted. A retained message replaces any queued retained message of
the same topic: only a topic's latest state is ever worth sending.

Thread-safe: producers push from any thread, the publisher's thread reads and removes.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from citybrain.errors import CitybrainError
from citybrain.integrations.mqtt.messages import MqttMessage

__all__ = ["DiskQueue", "PushResult", "QueueError", "QueuedMessage"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    queued_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_retained ON messages (topic) WHERE retain = 1;
"""
# A message's size in bytes (LENGTH of TEXT counts characters).
_SIZE = "LENGTH(payload) + LENGTH(CAST(topic AS BLOB))"


class QueueError(CitybrainError):
    """The on-disk queue cannot be opened or written; the message names the file."""


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """A message in the queue: ``seq`` grows with every push and gives the order."""

    seq: int
    message: MqttMessage
    queued_at: float


@dataclass(frozen=True, slots=True)
class PushResult:
    """What a push did: ``dropped`` older messages to stay within the bounds; ``refused`` if
    the message alone is larger than the byte bound (nothing else was dropped for it)."""

    dropped: int = 0
    refused: bool = False


class DiskQueue:
    """The queue in one SQLite file (created readable by this user only).

    Args:
        path: the file.
        max_messages: the most messages kept.
        max_bytes: the most bytes (topic and payload) kept.
        clock: POSIX time, for ``queued_at``.

    Raises:
        QueueError: the file cannot be opened.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_messages: int,
        max_bytes: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self._max_messages = max_messages
        self._max_bytes = max_bytes
        self._clock = clock
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # SQLite gives its -wal and -shm files the main file's mode.
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            row = self._db.execute(
                f"SELECT COUNT(*), COALESCE(SUM({_SIZE}), 0) FROM messages"
            ).fetchone()
        except (OSError, sqlite3.Error) as exc:
            raise QueueError(f"MQTT queue {path}: {exc}") from None
        self._count, self._bytes = int(row[0]), int(row[1])

    def __len__(self) -> int:
        with self._lock:
            return self._count

    @property
    def size_bytes(self) -> int:
        with self._lock:
            return self._bytes

    def push(self, message: MqttMessage) -> PushResult:
        """Append ``message``, dropping the oldest messages if the bounds demand it.

        Raises:
            QueueError: the file cannot be written.
        """
        size = _size(message)
        if size > self._max_bytes:
            return PushResult(refused=True)
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                if message.retain:
                    self._drop_retained(message.topic)
                self._db.execute(
                    "INSERT INTO messages (topic, payload, qos, retain, queued_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (message.topic, message.payload, message.qos, int(message.retain),
                     self._clock()),
                )  # fmt: skip
                self._count += 1
                self._bytes += size
                dropped = self._trim()
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise QueueError(f"MQTT queue {self.path}: {exc}") from None
        return PushResult(dropped=dropped)

    def peek(self, after: int, limit: int) -> list[QueuedMessage]:
        """Up to ``limit`` messages with ``seq > after``, oldest first.

        Raises:
            QueueError: the file cannot be read.
        """
        rows = self._read(
            "SELECT seq, topic, payload, qos, retain, queued_at FROM messages "
            "WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, limit),
        )
        return [
            QueuedMessage(seq, MqttMessage(topic, bytes(payload), bool(retain), qos), queued_at)
            for seq, topic, payload, qos, retain, queued_at in rows
        ]

    def retained_topics(self) -> set[str]:
        """The topics of the retained messages waiting in the queue.

        Raises:
            QueueError: the file cannot be read.
        """
        rows = self._read("SELECT DISTINCT topic FROM messages WHERE retain = 1", ())
        return {str(row[0]) for row in rows}

    def _read(self, sql: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise QueueError(f"MQTT queue {self.path}: {exc}") from None

    def remove(self, seqs: Iterable[int]) -> None:
        """Forget the messages ``seqs`` (the broker acknowledged them); unknown ones are fine.

        Raises:
            QueueError: the file cannot be written.
        """
        wanted = list(seqs)
        if not wanted:
            return
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                for start in range(0, len(wanted), 500):
                    chunk = wanted[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    found = self._db.execute(
                        f"SELECT COUNT(*), COALESCE(SUM({_SIZE}), 0) "
                        f"FROM messages WHERE seq IN ({marks})",
                        chunk,
                    ).fetchone()
                    self._db.execute(f"DELETE FROM messages WHERE seq IN ({marks})", chunk)
                    self._count -= int(found[0])
                    self._bytes -= int(found[1])
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise QueueError(f"MQTT queue {self.path}: {exc}") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _drop_retained(self, topic: str) -> None:
        found = self._db.execute(
            f"SELECT COUNT(*), COALESCE(SUM({_SIZE}), 0) FROM messages "
            "WHERE retain = 1 AND topic = ?",
            (topic,),
        ).fetchone()
        if found[0]:
            self._db.execute("DELETE FROM messages WHERE retain = 1 AND topic = ?", (topic,))
            self._count -= int(found[0])
            self._bytes -= int(found[1])

    def _trim(self) -> int:
        """Drop the oldest messages until both bounds hold; how many went."""
        dropped = 0
        while self._count > self._max_messages or self._bytes > self._max_bytes:
            excess = max(self._count - self._max_messages, 1)
            rows = self._db.execute(
                f"SELECT seq, {_SIZE} FROM messages ORDER BY seq LIMIT ?",
                (min(excess, 1000),),
            ).fetchall()
            if not rows:  # pragma: no cover - the counters disagree with the table
                break
            last = rows[-1][0]
            self._db.execute("DELETE FROM messages WHERE seq <= ?", (last,))
            self._count -= len(rows)
            self._bytes -= sum(int(r[1]) for r in rows)
            dropped += len(rows)
        return dropped

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):  # no transaction was open
            self._db.execute("ROLLBACK")


def _size(message: MqttMessage) -> int:
    return len(message.payload) + len(message.topic.encode())
