"""WSGI entry point for running the web role under a process manager such as gunicorn:

    HUB_CONFIG=/etc/hub/hub.yaml gunicorn -w 2 -k gthread --threads 8 'hub.wsgi:app'

The app is built from `$HUB_CONFIG` (else config/example.yaml) at import, once per worker
process; the webhook group committer starts lazily in the worker, after the fork.
"""

from __future__ import annotations

import atexit
import os
import sys

from hub import gc_tuning
from hub.app import close_app, create_app

# The group commit thread gives up the GIL during every SQLite/PostgreSQL call and then waits for
# it behind request threads; at the default 5 ms switch interval that wait dominates its latency.
sys.setswitchinterval(float(os.environ.get("HUB_SWITCH_INTERVAL", "0.0005")))

app = create_app()
atexit.register(close_app, app)
gc_tuning.tune()
