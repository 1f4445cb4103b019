"""Admin sign-ins kept on the server, so that signing out ends them for good.

Flask's session is a signed cookie: clearing it at logout does not stop a copy of it from
working. Here the cookie only carries a random id, valid while the server keeps it: logout
deletes it. The ids live in a small SQLite file (shared by every worker process).
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from contextlib import closing
from pathlib import Path

LIFETIME = 8 * 3600  # seconds an admin sign-in lasts


class AdminSessions:
    """The admin sign-ins this server accepts."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute("CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, until REAL)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def open(self) -> str:
        """A new sign-in: its id, for the session cookie."""
        sid = secrets.token_urlsafe(32)
        now = time.time()
        with closing(self._connect()) as db, db:
            db.execute("DELETE FROM sessions WHERE until < ?", (now,))
            db.execute("INSERT INTO sessions (id, until) VALUES (?, ?)", (sid, now + LIFETIME))
        return sid

    def valid(self, sid: str) -> bool:
        """Whether this id is a sign-in still open."""
        if not sid:
            return False
        with closing(self._connect()) as db:
            row = db.execute("SELECT until FROM sessions WHERE id = ?", (sid,)).fetchone()
        return row is not None and float(row[0]) > time.time()

    def close(self, sid: str) -> None:
        """Sign out: the id stops working, whoever holds a copy of the cookie."""
        with closing(self._connect()) as db, db:
            db.execute("DELETE FROM sessions WHERE id = ?", (sid,))
