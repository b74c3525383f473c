"""The reference for webhook intake: a bare Flask endpoint that parses the JSON body and answers
202, with no verification, storage or deduplication. Served by gunicorn like the hub."""

from __future__ import annotations

import orjson
from flask import Flask, Response, request

app = Flask(__name__)


@app.post("/hooks/<instance_id>")
def receive(instance_id: str) -> Response:
    orjson.loads(request.get_data(cache=False))
    return Response(b'{"status":"accepted"}', status=202, mimetype="application/json")
