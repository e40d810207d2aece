"""The ``/_sim/`` endpoints tests use to look at what the simulated buyers received."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from apps.demo.simulator.behaviour import Answer, error_answer
from apps.demo.simulator.recorder import Recorder

PREFIX = "/_sim/"
_ROUTES = {"requests": "GET", "stats": "GET", "reset": "POST", "health": "GET"}


def inspect(method: str, path: str, query: str, recorder: Recorder) -> Answer:
    """Answer a request under ``/_sim/``.

    ``GET requests?path=P&limit=N`` lists recorded requests (newest last);
    ``GET stats`` gives ``{path: count}``; ``POST reset`` forgets both;
    ``GET health`` answers ``ok``. Other names get 404, other methods 405.
    """
    name = path[len(PREFIX):]
    allowed = _ROUTES.get(name)
    if allowed is None:
        return error_answer(404, f"no simulator endpoint {path}")
    if method != allowed:
        answer = error_answer(405, f"{path} takes {allowed}")
        return Answer(answer.status, answer.content_type, answer.body, (("Allow", allowed),))
    if name == "health":
        return Answer(200, "text/plain", b"ok")
    if name == "stats":
        return _json(recorder.stats())
    if name == "reset":
        recorder.reset()
        return _json({"reset": True})
    params = {key: values[0] for key, values in parse_qs(query).items()}
    limit = params.get("limit")
    if limit is not None and not limit.isdigit():
        return error_answer(400, f"bad parameter 'limit': {limit!r} is not a count")
    return _json(recorder.requests(params.get("path"), int(limit) if limit else None))


def _json(document: object) -> Answer:
    return Answer(200, "application/json", json.dumps(document).encode())
