"""``make run`` (``run_embedded``): the buyer simulator's port follows the web port or the
setting, two runs never fight over one, and the demo's contracts point at the port the
simulator actually listens on."""

from __future__ import annotations

import os
import socket
import urllib.request
from contextlib import closing, contextmanager

import pytest
from django.core.management import CommandError, call_command

from apps.auctions.management.commands import run_embedded
from apps.auctions.management.commands.run_embedded import (
    Command,
    simulator_port_choice,
    simulator_start,
)


class Stop(Exception):
    """Ends a run_embedded start-up once the part under test is done."""


@pytest.mark.parametrize(("web_port", "configured", "expected"), [
    (8000, None, (8099, False)),
    (8123, 0, (8222, False)),
    (8124, 0, (8223, False)),
    (8000, 9100, (9100, True)),
    (65500, 0, (0, False)),
])
def test_the_simulator_port_follows_the_web_port_unless_configured(web_port, configured,
                                                                   expected):
    assert simulator_port_choice(web_port, configured) == expected


@contextmanager
def listener():
    """A port something else listens on."""
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
def child_env() -> dict[str, str]:
    return {"DJANGO_SECRET_KEY": "test-only-key", **os.environ}


def healthy(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/_sim/health", timeout=5) as response:  # noqa: S310
        return response.status == 200


def test_two_runs_whose_derived_ports_meet_get_two_simulators(child_env):
    """The second run's preferred port is the first run's simulator port: it takes a free
    one instead of dying after it already served."""
    first, first_url = simulator_start(0, env=child_env)
    taken = int(first_url.rsplit(":", 1)[1])
    try:
        second, second_url = Command()._simulator(taken, False, env=child_env)
        try:
            assert second_url != first_url
            assert healthy(first_url) and healthy(second_url)
        finally:
            second.terminate()
            second.wait(10)
    finally:
        first.terminate()
        first.wait(10)


def test_a_configured_simulator_port_that_is_taken_stops_the_start_clearly(child_env):
    with listener() as port, pytest.raises(CommandError, match=(
            f"did not listen on port {port} .*is the port taken\\? Choose another with "
            "--simulator-port or DEMO_SIMULATOR_PORT")):
        Command()._simulator(port, True, env=child_env)


class FakeProcess:
    def poll(self) -> int:
        return 0

    def terminate(self) -> None: ...

    def wait(self, timeout: float | None = None) -> int:
        return 0


def test_the_demo_data_points_at_the_port_the_simulator_listens_on(monkeypatch, settings):
    """The port asked for (web 8123 → 8222) was taken, so the simulator took another: the
    demo's contracts are loaded with the URL it printed, not the one asked for."""
    settings.DEMO_SIMULATOR_PORT = 0
    started, loaded = [], []
    monkeypatch.setattr(run_embedded, "port_is_free", lambda port: False)

    def fake_start(port, *, env):
        started.append((port, env["HTTP_ALLOWED_NETWORKS"]))
        return FakeProcess(), "http://127.0.0.1:40123"

    def fake_manage(argv, env, *, capture=False):
        loaded.append(argv)
        raise Stop

    monkeypatch.setattr(run_embedded, "simulator_start", fake_start)
    monkeypatch.setattr(Command, "_manage", staticmethod(fake_manage))

    with pytest.raises(Stop):
        call_command("run_embedded", "--port", "8123")

    assert started == [(0, "127.0.0.1/32")]
    assert loaded == [["demo_data", "--base-url", "http://127.0.0.1:8123",
                       "--simulator-url", "http://127.0.0.1:40123"]]


def test_a_configured_port_is_asked_for_as_given(monkeypatch, settings):
    settings.DEMO_SIMULATOR_PORT = 9100
    started = []

    def fake_start(port, *, env):
        started.append(port)
        raise Stop

    monkeypatch.setattr(run_embedded, "simulator_start", fake_start)

    with pytest.raises(Stop):
        call_command("run_embedded", "--port", "8123")
    with pytest.raises(Stop):
        call_command("run_embedded", "--port", "8123", "--simulator-port", "9200")

    assert started == [9100, 9200]


@pytest.mark.django_db
@pytest.mark.parametrize(("setting", "flags", "traffic"), [
    (True, [], True),
    (False, [], False),  # DEMO_TRAFFIC=0 make run
    (True, ["--no-demo-traffic"], False),
    (False, ["--demo-traffic"], True),
])
def test_demo_traffic_runs_unless_switched_off(monkeypatch, settings, setting, flags, traffic):
    settings.DEMO_TRAFFIC = setting
    commands = []

    class RecordedProcess(FakeProcess):
        def __init__(self, argv, **kwargs):
            commands.append(argv[2])  # manage.py COMMAND or -m gunicorn

    def wait_until_up(url, process):
        raise Stop

    monkeypatch.setattr(run_embedded, "simulator_start",
                        lambda port, *, env: (FakeProcess(), "http://127.0.0.1:40123"))
    monkeypatch.setattr(Command, "_manage", staticmethod(lambda argv, env, capture=False: ""))
    monkeypatch.setattr(Command, "_wait_until_up", staticmethod(wait_until_up))
    monkeypatch.setattr(run_embedded.subprocess, "Popen", RecordedProcess)

    with pytest.raises(Stop):
        call_command("run_embedded", "--port", "8123", *flags)

    assert commands == ["gunicorn", "run_periodic", *(["demo_traffic"] if traffic else [])]
