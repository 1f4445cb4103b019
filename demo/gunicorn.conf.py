"""gunicorn settings for ``make demo``: one worker process per core, 4 threads each, loopback.

Several processes use every core (one Python process runs Python on one core at a time). The
app is built once, in the master, before it forks the workers (``preload_app``): a bad spec or
database stops the server at once with its message; every worker shares the key that signs
sessions and CSRF tokens (a token issued by one worker is checked by another) and the admin
token, printed once; and every worker is ready as soon as it is forked. The ledger opens its own
connections in each worker (see ``toolkit.proof.ledger``). Override with OPTIN_WORKERS and
gunicorn's own options (``-b``, ``--threads``...) after ``-c demo/gunicorn.conf.py``.
"""

from __future__ import annotations

import os

bind = f"127.0.0.1:{int(os.environ.get('OPTIN_PORT') or 5000)}"  # make demo PORT=8000
workers = int(os.environ.get("OPTIN_WORKERS") or os.cpu_count() or 1)
worker_class = "gthread"
threads = 4
wsgi_app = "demo:create_app()"
preload_app = True
control_socket_disable = True  # no runtime control socket in $HOME: nothing here needs one
