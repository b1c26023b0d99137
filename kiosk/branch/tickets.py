"""Queue tickets in SQLite (WAL, one transaction per ticket): a crash or power cut at any point loses no issued
ticket and never issues a number twice. A ticket keeps only what the queue needs — a salted hash of the ID number
(to notice a repeat visit), the masked name, the language and the elderly flag — never the ID data itself.

The staff-notification outbox lives in the same database and is written in the same transaction as the ticket,
so a ticket is never issued without its wristband message (and vice versa)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from ..core.privacy import mask_data

SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (day TEXT NOT NULL, prefix TEXT NOT NULL, value INTEGER NOT NULL,
                                     PRIMARY KEY (day, prefix));
CREATE TABLE IF NOT EXISTS tickets (
    id INTEGER PRIMARY KEY, day TEXT NOT NULL, number TEXT NOT NULL, business TEXT NOT NULL,
    issued_at REAL NOT NULL, source TEXT NOT NULL, id_hash TEXT, masked_name TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL, elderly INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT 'waiting',
    counter TEXT, called_at REAL, served_at REAL, UNIQUE (day, number));
CREATE INDEX IF NOT EXISTS tickets_hash ON tickets (day, id_hash);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload TEXT NOT NULL, qos INTEGER NOT NULL DEFAULT 1,
    retain INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL, sent_at REAL, msg_id TEXT);
"""


class Pending(NamedTuple):
    id: int  # the row, for mark_sent
    topic: str
    payload: str
    qos: int
    retain: bool
    msg_id: str  # unique across kiosks and restarts: kiosk id + UUID


@dataclass(frozen=True)
class Business:
    id: str
    prefix: str
    minutes: float  # typical service time, until recent history says otherwise


@dataclass(frozen=True)
class Ticket:
    number: str
    business: str
    language: str
    elderly: bool
    masked_name: str
    issued_at: float
    waiting_ahead: int
    estimated_wait_min: float
    repeat: bool = False  # the same person already took a ticket today

    def staff_payload(self) -> dict[str, object]:
        """What a wristband/terminal receives — nothing else."""
        return {"ticket": self.number, "business": self.business, "language": self.language,
                "elderly": self.elderly, "masked_name": self.masked_name}


class TicketStore:
    def __init__(self, path: Path, businesses: list[Business], *, topic_prefix: str = "bank/branch/kiosk",
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.businesses = {b.id: b for b in businesses}
        self.topic_prefix = topic_prefix
        self.kiosk_id = topic_prefix.rsplit("/", 1)[-1]  # bank/<branch>/<kiosk>
        self.clock = clock
        self._lock = threading.Lock()
        self.db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=10)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # an issued ticket survives a power cut
        self.db.executescript(SCHEMA)
        if "msg_id" not in {r[1] for r in self.db.execute("PRAGMA table_info(outbox)")}:  # a database from before
            self.db.execute("ALTER TABLE outbox ADD COLUMN msg_id TEXT")

    def close(self) -> None:
        """Close the database once no other thread is using it (a purge or an outbox read may be in flight in a
        worker thread: closing under it would crash the process, not just the call)."""
        with self._lock:
            self.db.close()

    def _day(self, t: float) -> str:
        return datetime.fromtimestamp(t).strftime("%Y-%m-%d")

    # ---- issuing ------------------------------------------------------------------------------------------
    def issue(self, business: str, *, language: str, elderly: bool = False, id_hash: str | None = None,
              masked_name: str = "", source: str = "walk-in") -> Ticket:
        """Issue the next number of `business` (prefix letter + counter, reset daily) in one transaction, with
        its staff message in the outbox."""
        b = self.businesses[business]
        now = self.clock()
        day = self._day(now)
        with self._transaction() as cur:
            repeat = id_hash is not None and cur.execute(
                "SELECT 1 FROM tickets WHERE day = ? AND id_hash = ? LIMIT 1", (day, id_hash)).fetchone() is not None
            cur.execute("INSERT INTO counters (day, prefix, value) VALUES (?, ?, 1) "
                        "ON CONFLICT (day, prefix) DO UPDATE SET value = value + 1", (day, b.prefix))
            value = cur.execute("SELECT value FROM counters WHERE day = ? AND prefix = ?", (day, b.prefix)).fetchone()[0]
            number = f"{b.prefix}{value:03d}"
            ahead = cur.execute("SELECT COUNT(*) FROM tickets WHERE day = ? AND business = ? AND status = 'waiting'",
                                (day, business)).fetchone()[0]
            cur.execute("INSERT INTO tickets (day, number, business, issued_at, source, id_hash, masked_name, "
                        "language, elderly) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (day, number, business, now, source, id_hash, masked_name, language, int(elderly)))
            ticket = Ticket(number, business, language, elderly, masked_name, now, ahead,
                            self._estimate(cur, business, ahead), repeat)
            self._enqueue(cur, "ticket", ticket.staff_payload(), now)
            if elderly or repeat:
                self._enqueue(cur, "help", {"ticket": number, "reason": "elderly" if elderly else "repeat-visit",
                                            "language": language}, now)
        return ticket

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        """One immediate (write-locked) transaction: committed whole, or rolled back whole."""
        with self._lock:
            cur = self.db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                if self.db.in_transaction:  # SQLite may already have rolled back (e.g. SQLITE_FULL)
                    cur.execute("ROLLBACK")
                raise

    def _estimate(self, cur: sqlite3.Cursor, business: str, ahead: int) -> float:
        """Minutes: people ahead × the mean of the last 20 service times (or the configured typical time)."""
        rows = cur.execute("SELECT served_at - called_at FROM tickets WHERE business = ? AND served_at IS NOT NULL "
                           "ORDER BY served_at DESC LIMIT 20", (business,)).fetchall()
        per = (sum(r[0] for r in rows) / len(rows) / 60) if rows else self.businesses[business].minutes
        return round(ahead * per, 1)

    def _enqueue(self, cur: sqlite3.Cursor, kind: str, payload: dict[str, object], now: float, retain: bool = False) -> None:
        cur.execute("INSERT INTO outbox (topic, payload, qos, retain, created_at, msg_id) VALUES (?, ?, 1, ?, ?, ?)",
                    (f"{self.topic_prefix}/{kind}", json.dumps(mask_data(payload), ensure_ascii=False), int(retain),
                     now, self.new_message_id()))

    def new_message_id(self) -> str:
        return f"{self.kiosk_id}-{uuid.uuid4().hex}"

    def notify(self, kind: str, payload: dict[str, object]) -> None:
        """A staff message outside a ticket (e.g. "customer needs help")."""
        with self._lock:
            self._enqueue(self.db.cursor(), kind, payload, self.clock())

    # ---- the counter side -----------------------------------------------------------------------------------
    def call_next(self, counter: str, business: str | None = None) -> Ticket | None:
        """The teller calls the next customer (elderly first); the ticket's language follows them to the counter."""
        now = self.clock()
        with self._transaction() as cur:
            cur.execute("UPDATE tickets SET status = 'served', served_at = ? WHERE counter = ? AND status = 'called'",
                        (now, counter))
            q = "SELECT id, number, business, language, elderly, masked_name, issued_at FROM tickets " \
                "WHERE day = ? AND status = 'waiting'" + (" AND business = ?" if business else "") + \
                " ORDER BY elderly DESC, issued_at, id LIMIT 1"
            row = cur.execute(q, (self._day(now), business) if business else (self._day(now),)).fetchone()
            if row is None:
                return None
            cur.execute("UPDATE tickets SET status = 'called', called_at = ?, counter = ? WHERE id = ?",
                        (now, counter, row[0]))
            ticket = Ticket(row[1], row[2], row[3], bool(row[4]), row[5], row[6], 0, 0.0)
            self._enqueue(cur, "called", {**ticket.staff_payload(), "counter": counter}, now)
        return ticket

    # ---- outbox -------------------------------------------------------------------------------------------
    def pending(self, limit: int = 100) -> list[Pending]:
        with self._lock:
            rows = list(self.db.execute("SELECT id, topic, payload, qos, retain, msg_id FROM outbox "
                                        "WHERE sent_at IS NULL ORDER BY id LIMIT ?", (limit,)))
            out = []
            for r in rows:
                msg_id = r[5]
                if msg_id is None:  # written before message ids existed: give it one, once
                    msg_id = self.new_message_id()
                    self.db.execute("UPDATE outbox SET msg_id = ? WHERE id = ?", (msg_id, r[0]))
                out.append(Pending(r[0], r[1], r[2], r[3], bool(r[4]), msg_id))
            return out

    def mark_sent(self, message_id: int) -> None:
        with self._lock:
            self.db.execute("UPDATE outbox SET sent_at = ? WHERE id = ?", (self.clock(), message_id))

    def outbox_depth(self) -> int:
        with self._lock:
            return self.db.execute("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0]

    # ---- housekeeping -------------------------------------------------------------------------------------
    def purge(self, keep_days: int) -> int:
        """Delete tickets and staff messages older than `keep_days` — unsent ones too: a message no broker took in
        that long is of no use to anyone, and the outbox must not grow without end. Returns the tickets removed."""
        cutoff = self._day(self.clock() - keep_days * 86400)
        old = self.clock() - keep_days * 86400
        with self._lock:
            n = self.db.execute("DELETE FROM tickets WHERE day < ?", (cutoff,)).rowcount
            self.db.execute("DELETE FROM outbox WHERE COALESCE(sent_at, created_at) < ?", (old,))
            self.db.execute("DELETE FROM counters WHERE day < ?", (cutoff,))
        return n

    def tickets(self, day: str | None = None) -> list[tuple[str, str, str]]:
        day = day or self._day(self.clock())
        with self._lock:
            return list(self.db.execute("SELECT number, business, status FROM tickets WHERE day = ? ORDER BY id", (day,)))


def businesses_from_config(cfg) -> list[Business]:
    return [Business(b.id, b.prefix, b.minutes) for b in cfg.queue.businesses]
