"""Child processes of a bench run (simulator, gunicorn, load generator) and their CPU time.

``Children`` owns every process the run starts and stops them all on exit, on failure and
on Ctrl-C (the caller turns SIGTERM into ``SystemExit`` so that ``finally`` runs). CPU time
is read from ``/proc/<pid>/stat`` (utime + stime), so no psutil is needed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.error import HTTPError, URLError

from apps.demo.simulator.testing import SimulatorProcess, start_simulator_process

REPO_ROOT = Path(__file__).resolve().parents[1]
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads); 0.0 once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # The command name (field 2) may hold spaces: split after its closing parenthesis.
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def system_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores, /proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _CLK_TCK


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants alive now (gunicorn: the master and its workers)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, []))
    return tree


OTHERS = "other processes"


@dataclass
class CpuMeter:
    """CPU seconds used by named groups of processes between ``start`` and ``stop``.

    A group is a list of pids read at ``start`` plus any read at ``stop`` (a process born
    in between counts from zero: a new database backend, a respawned worker). The machine's
    busy time not used by any group is reported as ``OTHERS``: on a shared machine, the
    noise the figures were measured under.
    """

    groups: Mapping[str, Iterable[int]]
    _before: dict[int, float] | None = None
    _wall: float = 0.0
    _system: float = 0.0

    def start(self) -> None:
        self._wall = time.monotonic()
        self._system = system_busy_seconds()
        self._before = {pid: cpu_seconds(pid) for pids in self.groups.values() for pid in pids}

    def stop(self, extra: Mapping[str, Iterable[int]] | None = None) -> dict[str, float]:
        """CPU seconds per group since ``start`` (``extra`` adds pids found at the end),
        ``OTHERS``, and ``wall_s``."""
        assert self._before is not None, "start() first"
        wall = time.monotonic() - self._wall
        used: dict[str, float] = {}
        for name, pids in self.groups.items():
            pids = set(pids) | set((extra or {}).get(name, ()))
            used[name] = sum(max(0.0, cpu_seconds(pid) - self._before.get(pid, 0.0))
                             for pid in pids)
        used[OTHERS] = max(0.0, system_busy_seconds() - self._system - sum(used.values()))
        used["wall_s"] = wall
        return used


def machine_quiet_wait(limit_s: float, *, quiet: float = 0.2, window_s: float = 3.0) -> bool:
    """Wait (up to ``limit_s``) until other processes use under ``quiet`` of a core over
    ``window_s``; True once they do. Prints what it waits for."""
    give_up = time.monotonic() + limit_s
    while True:
        meter = CpuMeter({"bench": [os.getpid()]})
        meter.start()
        time.sleep(window_s)
        used = meter.stop()
        share = used[OTHERS] / used["wall_s"]
        if share < quiet:
            return True
        if time.monotonic() > give_up:
            print(f"bench: the machine is still busy ({100 * share:.0f}% of a core); "
                  "measuring anyway", flush=True)
            return False
        print(f"bench: other processes use {100 * share:.0f}% of a core; waiting", flush=True)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Children:
    """Every child process of the run; ``close`` (or leaving the ``with``) stops them all."""

    def __init__(self) -> None:
        self._popens: list[subprocess.Popen] = []
        self._simulators: list[SimulatorProcess] = []

    def simulator(self, seed: int, log_path: Path | None = None, *,
                  host: str = "127.0.0.1") -> SimulatorProcess:
        """Start a buyer simulator on a free port of ``host`` (see apps.demo.simulator); with
        ``log_path`` it logs every answer there."""
        process = start_simulator_process(seed, log_path=log_path, host=host)
        self._simulators.append(process)
        return process

    def stop_simulator(self, process: SimulatorProcess) -> None:
        process.stop()
        if process in self._simulators:
            self._simulators.remove(process)

    def gunicorn(self, *, env: Mapping[str, str], workers: int, threads: int,
                 log_path: Path, ready_path: str, config: Path | None = None,
                 host: str = "127.0.0.1", prefix: Sequence[str] = ()
                 ) -> tuple[subprocess.Popen, str]:
        """Serve the app with gunicorn gthread on a free port of ``host``, as in production;
        return the master and its base URL once ``ready_path`` answers. Logs go to
        ``log_path`` (a pipe nobody reads would fill up and block the server); ``config`` is
        a gunicorn config file (experiments: hooks, settings); ``prefix`` runs it through
        another command (``ip netns exec NAME``: on another network host)."""
        port = free_port()
        options = ["--config", str(config)] if config is not None else []
        log = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
        try:
            popen = subprocess.Popen(
                [*prefix, sys.executable, "-m", "gunicorn", "leadexchange.wsgi",
                 "--bind", f"{host}:{port}", "--workers", str(workers),
                 "--worker-class", "gthread", "--threads", str(threads),
                 "--graceful-timeout", "5", "--timeout", "60", "--backlog", "2048", *options],
                cwd=REPO_ROOT, env=dict(env), stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()
        self._popens.append(popen)
        url = f"http://{host}:{port}"
        _wait_until_up(url + ready_path, popen, log_path)
        return popen, url

    def start(self, argv: list[str], *, env: Mapping[str, str] | None = None,
              stdout: int | None = subprocess.PIPE, stderr: int | None = None
              ) -> subprocess.Popen:
        """Start ``argv`` (text mode, stdout piped by default) from the repository root."""
        popen = subprocess.Popen(
            argv, cwd=REPO_ROOT, env=dict(env) if env is not None else None, stdout=stdout,
            stderr=stderr, text=True)
        self._popens.append(popen)
        return popen

    def stop(self, popen: subprocess.Popen, timeout: float = 10.0) -> None:
        """SIGTERM ``popen``, wait ``timeout`` s, then SIGKILL."""
        if popen.poll() is None:
            popen.terminate()
            try:
                popen.wait(timeout)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()
        if popen in self._popens:
            self._popens.remove(popen)

    def close(self) -> None:
        """Stop every child still running, newest first."""
        for popen in reversed(list(self._popens)):
            self.stop(popen)
        for simulator in reversed(self._simulators):
            simulator.stop()
        self._simulators.clear()

    def __enter__(self) -> Children:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def _wait_until_up(url: str, popen: subprocess.Popen, log_path: Path,
                   timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {popen.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our local server
                return
        except HTTPError:
            return  # it answers: up
        except (URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer {url} within {timeout:.0f} s; see {log_path}")
