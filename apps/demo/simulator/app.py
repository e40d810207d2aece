"""Routing of one received request to the inspection endpoints or a simulated buyer."""

from __future__ import annotations

from dataclasses import dataclass

from apps.demo.simulator.behaviour import (
    Answer,
    Decision,
    Kind,
    SimRequest,
    classify,
    error_answer,
    respond,
)
from apps.demo.simulator.http11 import HttpRequest
from apps.demo.simulator.inspection import PREFIX, inspect
from apps.demo.simulator.receiver import PREFIX as HOOKS
from apps.demo.simulator.receiver import receive
from apps.demo.simulator.recorder import Recorder
from apps.demo.simulator.request_log import RequestLog
from apps.demo.simulator.state import SimulatorState

BUYER_METHODS = ("GET", "POST", "PUT")


@dataclass(frozen=True, slots=True)
class Routed:
    """A decision, and the kind of buyer request it answers (None: not a ping or post)."""

    decision: Decision
    kind: Kind | None


class SimulatorApp:
    """Everything a running simulator knows, shared by all its connections."""

    def __init__(self, seed: int, request_log: RequestLog | None = None) -> None:
        self.state = SimulatorState(seed)
        self.recorder = Recorder()
        self.request_log = request_log

    def handle(self, request: HttpRequest) -> Routed:
        """Return what to do with a fully received request.

        ``/_sim/`` requests go to the inspection endpoints and are not recorded; every
        other request is recorded, then answered by the demo sources' receiver
        (``/hooks/``) or by the buyer its path names (404 when
        the path ends in neither ping nor post, 405 for a method other than GET, POST
        or PUT).
        """
        if request.path.startswith(PREFIX):
            answer = inspect(request.method, request.path, request.query, self.recorder)
            return Routed(Decision(answer), None)
        self.recorder.record(request)
        if request.path.startswith(HOOKS):  # the demo sources' webhooks and postbacks
            answer = receive(request.method, request.path, request.headers, request.body,
                             request.received_at)
            return Routed(Decision(answer), None)
        kind = classify(request.path)
        if kind is None:
            message = f"{request.path} ends in neither /ping nor /post"
            return Routed(Decision(error_answer(404, message)), None)
        if request.method not in BUYER_METHODS:
            answer = error_answer(405, f"a buyer takes {', '.join(BUYER_METHODS)}")
            allow = (("Allow", ", ".join(BUYER_METHODS)),)
            return Routed(Decision(Answer(405, answer.content_type, answer.body, allow)), kind)
        sim_request = SimRequest(kind, request.path, request.query, request.headers,
                                 request.body)
        return Routed(respond(sim_request, self.state), kind)

    def answered(
        self,
        request: HttpRequest,
        routed: Routed,
        answered_at: float,
        status: int | None,
    ) -> None:
        """Log that a ping or post got its answer (``status`` None: closed unanswered)."""
        if self.request_log is not None and routed.kind is not None:
            self.request_log.add(request.path, routed.kind, routed.decision.latency_ms,
                                 request.received_at, answered_at, status)
