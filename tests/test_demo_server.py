"""The demo as ``make demo`` serves it: gunicorn, several worker processes, one ledger."""

from __future__ import annotations

import http.client
import re
import threading
import urllib.parse
from pathlib import Path

from conftest import demo_server

from toolkit.proof import Ledger


def _visit(host: str, port: int) -> tuple[str, dict[str, str]]:
    """A visitor's session cookie and the sign-up form's hidden fields."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.request("GET", "/?lang=fr")
    page = conn.getresponse()
    html = page.read().decode()
    conn.close()
    cookie = (page.getheader("Set-Cookie") or "").split(";")[0]
    return cookie, dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


def test_workers_share_the_secrets_and_one_chain(tmp_path: Path) -> None:
    """A form served by one worker is accepted by any other (one CSRF key), the admin token
    is made and printed once, and sign-ups from every worker land in one valid chain."""
    url = f"sqlite:///{tmp_path / 'optin.db'}"
    with demo_server(url, {"OPTIN_ADMIN_TOKEN": None}) as (base, output):
        parts = urllib.parse.urlsplit(base)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        tokens = re.findall(r"admin token for this run: (\S+)", output())
        assert len(tokens) == 1, output()
        statuses: list[int] = []
        lock = threading.Lock()

        def sign_ups(client: int) -> None:
            cookie, fields = _visit(host, port)
            for n in range(10):
                body = urllib.parse.urlencode(
                    {**fields, "consent_sms_offers": "sms_offers", "phone": f"+3361{client}{n:06d}"}
                )
                conn = http.client.HTTPConnection(host, port, timeout=30)  # any worker
                conn.request(
                    "POST",
                    "/?lang=fr",
                    body,
                    {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
                )
                answer = conn.getresponse()
                answer.read()
                conn.close()
                with lock:
                    statuses.append(answer.status)

        clients = [threading.Thread(target=sign_ups, args=(c,)) for c in range(6)]
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        assert statuses == [303] * 60
        admin = []
        for _ in range(6):
            conn = http.client.HTTPConnection(host, port, timeout=30)
            conn.request("GET", "/admin/", headers={"Authorization": f"Bearer {tokens[0]}"})
            answer = conn.getresponse()
            answer.read()
            conn.close()
            admin.append(answer.status)
        assert admin == [200] * 6
    book = Ledger(url)
    assert book.count() == 60
    assert book.verify().ok
    book.close()
