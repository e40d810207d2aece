"""``make run``: the whole platform on the embedded default, with demo data, in one terminal.

The product's processes (gunicorn, the periodic jobs) and the demo's (the buyer simulator,
the demo data, its traffic) run side by side; the demo's are reached only through their
management commands (``buyer_simulator``, ``demo_data``, ``generate_leads``,
``demo_traffic``), never imported, so the product does not depend on the demo app.

The simulator listens on ``--simulator-port`` (or ``DEMO_SIMULATOR_PORT``); left unset, on the
web port + 99 when that is free, else on any free port — so two ``make run`` on different
``PORT``s never fight over one — and the demo's contracts are pointed at the port it
actually listens on.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from argparse import BooleanOptionalAction
from pathlib import Path
from typing import IO
from urllib.error import URLError

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.leads.models import Lead

SIMULATOR_PORT_OFFSET = 99
_READY_PREFIX = "listening on "  # what buyer_simulator prints once it listens


def simulator_port_choice(web_port: int, configured: int | None) -> tuple[int, bool]:
    """The port to start the buyer simulator on, and whether it is fixed (configured).

    A configured port (the flag, else ``DEMO_SIMULATOR_PORT``; 0 or None = unset) is used
    as given. Otherwise the web port + 99 (8000 → 8099, the port the docs name), or 0 (any
    free port) when that is past the last port; an unfixed port that turns out to be taken
    is replaced by a free one at start-up (``simulator_start``)."""
    if configured:
        return configured, True
    derived = web_port + SIMULATOR_PORT_OFFSET
    return (derived if derived <= 65535 else 0), False


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a listener could bind ``host:port`` now (a hint: it may be taken before the
    simulator binds it, which ``simulator_start`` reports)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio's servers
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def metrics_dir_fresh(port: int) -> Path:
    """An empty ``var/prometheus-PORT``: the web server and the periodic jobs keep their
    metrics there (prometheus_client's multiprocess mode), so ``/metrics`` counts the
    auctions and retries of both. Emptied at every start, as that mode requires."""
    directory = settings.VAR_DIR / f"prometheus-{port}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


class SimulatorStartError(Exception):
    """The buyer simulator exited, or stayed silent, before it listened."""


def simulator_start(port: int, *, env: dict[str, str], timeout: float = 30.0,
                    ) -> tuple[subprocess.Popen[str], str]:
    """Start ``manage.py buyer_simulator --port PORT`` and return it with the URL it says
    it listens on (``port`` 0: a free one). Raises ``SimulatorStartError`` when it exits
    first (the port is taken) or does not listen within ``timeout`` seconds."""
    process = subprocess.Popen(  # noqa: S603 - fixed argv, our own interpreter
        [sys.executable, "manage.py", "buyer_simulator", "--port", str(port)],
        cwd=settings.BASE_DIR, env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = ""
    if select.select([process.stdout], [], [], timeout)[0]:
        line = process.stdout.readline()
    if not line.startswith(_READY_PREFIX):
        process.kill()
        process.wait()
        process.stdout.close()
        raise SimulatorStartError(f"the buyer simulator did not listen on port {port} "
                                  f"(exit code {process.returncode})")
    # Whatever else it prints goes to our output, and its pipe never fills up.
    threading.Thread(target=_forward, args=(process.stdout,), daemon=True).start()
    return process, line[len(_READY_PREFIX):].strip()


def _forward(stream: IO[str]) -> None:
    for line in stream:
        sys.stdout.write(line)


class Command(BaseCommand):
    help = "Serve the platform with demo data and print its URLs and a working curl."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=64)
        parser.add_argument("--simulator-port", type=int, default=None,
                            help="the buyer simulator's port (default: DEMO_SIMULATOR_PORT, "
                                 "else the web port + 99 when free, else a free port)")
        parser.add_argument("--demo-traffic", action=BooleanOptionalAction, default=None,
                            help="submit a demo lead every ~3 s (default: DEMO_TRAFFIC, on)")

    def handle(self, *args, host: str, port: int, threads: int, simulator_port: int | None,
               demo_traffic: bool | None, **options) -> None:
        base_url = f"http://{host}:{port}"
        traffic = settings.DEMO_TRAFFIC if demo_traffic is None else demo_traffic
        # The demo's buyers are the local simulator: let the SSRF guard admit loopback.
        allowed = dict.fromkeys([*settings.HTTP_ALLOWED_NETWORKS, "127.0.0.1/32"])
        env = {**os.environ, "HTTP_ALLOWED_NETWORKS": ",".join(allowed)}
        if not env.get("PROMETHEUS_MULTIPROC_DIR"):
            env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir_fresh(port))
        children: list[subprocess.Popen] = []
        try:
            simulator, simulator_url = self._simulator(
                *simulator_port_choice(port, simulator_port or settings.DEMO_SIMULATOR_PORT),
                env=env)
            children.append(simulator)
            demo = self._manage(["demo_data", "--base-url", base_url,
                                 "--simulator-url", simulator_url], env, capture=True)
            if not Lead.objects.exists():  # a first start: a week of history for the dashboards
                self.stdout.write("Generating a week of synthetic demo history (first start)…")
                self.stdout.flush()
                self._manage(["generate_leads", "--count", "3000", "--days", "7", "--seed", "1",
                              "--buyers", "0", "--verbosity", "0"], env)
            python = sys.executable
            web = subprocess.Popen([  # noqa: S603 - fixed argv, our own interpreter
                python, "-m", "gunicorn", settings.WSGI_APPLICATION.rsplit(".", 1)[0],
                "--bind", f"{host}:{port}", "--workers", "1", "--worker-class", "gthread",
                "--threads", str(threads), "--graceful-timeout", "5"],
                cwd=settings.BASE_DIR, env=env)
            children.append(web)
            children.append(subprocess.Popen(  # noqa: S603
                [python, "manage.py", "run_periodic"], cwd=settings.BASE_DIR, env=env))
            if traffic:
                children.append(subprocess.Popen(  # noqa: S603
                    [python, "manage.py", "demo_traffic", "--url", base_url, "--every", "3"],
                    cwd=settings.BASE_DIR, env=env))
            self._wait_until_up(f"{base_url}/admin/login/", web)
            self._banner(demo, traffic)
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            raise CommandError("A child process stopped; see its output above.")
        except KeyboardInterrupt:
            pass
        finally:
            for child in children:
                if child.poll() is None:
                    child.terminate()
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()

    def _simulator(self, port: int, fixed: bool, *, env: dict[str, str],
                   ) -> tuple[subprocess.Popen, str]:
        if fixed or port_is_free(port):
            try:
                return simulator_start(port, env=env)
            except SimulatorStartError as error:
                if fixed:
                    raise CommandError(
                        f"{error}: is the port taken? Choose another with --simulator-port "
                        "or DEMO_SIMULATOR_PORT, or leave both unset for a free one.") from None
        # taken (by another `make run`, say), or taken between the check and the start
        self.stdout.write(f"Port {port} is taken; the buyer simulator takes a free one.")
        try:
            return simulator_start(0, env=env)
        except SimulatorStartError as error:
            raise CommandError(f"{error}; see its output above.") from None

    @staticmethod
    def _manage(argv: list[str], env: dict[str, str], *, capture: bool = False) -> str:
        """Run ``manage.py ARGV`` to completion (its errors go to our stderr); return its
        output when ``capture``."""
        done = subprocess.run(  # noqa: S603 - fixed argv, our own interpreter
            [sys.executable, "manage.py", *argv], cwd=settings.BASE_DIR, env=env,
            stdout=subprocess.PIPE if capture else None, text=True, check=False)
        if done.returncode:
            raise CommandError(f"`manage.py {argv[0]}` failed; see its output above.")
        return done.stdout or ""

    def _banner(self, demo: str, traffic: bool) -> None:
        out = self.stdout.write
        out("")
        out("leadexchange is running (embedded default: SQLite, in-process auctions).")
        for line in demo.splitlines():
            out(f"  {line}")
        out("  Demo traffic: " + ("a lead every ~3 s through the API (DEMO_TRAFFIC=0 turns "
                                  "it off)" if traffic else "off (DEMO_TRAFFIC=0)"))
        out("")
        out("Ctrl-C stops everything.")
        self.stdout.flush()  # seen at once even when the output is a pipe or a file

    @staticmethod
    def _wait_until_up(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise CommandError("The web server failed to start; see its output above.")
            try:
                with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - our own local URL
                    return
            except (URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        raise CommandError(f"The web server did not answer {url} within {timeout:.0f} s.")
