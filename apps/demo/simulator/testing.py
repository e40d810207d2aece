"""Running the simulator as a subprocess, for tests and benchmarks.

A pytest fixture is three lines::

    @pytest.fixture(scope="session")
    def buyer_simulator_url():
        with simulator_process(seed=1) as url:
            yield url
"""

from __future__ import annotations

import select
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

REPO_ROOT = Path(__file__).resolve().parents[3]
READY_PREFIX = "listening on "


class SimulatorProcess:
    """A ``python -m apps.demo.simulator`` subprocess listening on a free port."""

    def __init__(self, popen: subprocess.Popen[str], url: str) -> None:
        self.popen = popen
        self.url = url

    @property
    def pid(self) -> int:
        """The server process id (e.g. to read its CPU time)."""
        return self.popen.pid

    def stop(self, timeout: float = 5.0) -> int:
        """Send SIGTERM, wait (killing it after ``timeout`` s) and return the exit code."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        if self.popen.stdout is not None:
            self.popen.stdout.close()
        return self.popen.returncode

    def __enter__(self) -> SimulatorProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start_simulator_process(
    seed: int = 1, *, log_path: str | Path | None = None, timeout: float = 10.0,
    host: str = "127.0.0.1",
) -> SimulatorProcess:
    """Start a simulator subprocess on ``host`` (127.0.0.1 by default) with a free port;
    return once it listens.

    Runs ``sys.executable -m apps.demo.simulator`` from the repository root, its
    stderr going to ours. Raises RuntimeError if it exits or prints anything else first,
    TimeoutError if it does not listen within ``timeout`` seconds. The caller must
    ``stop()`` it.
    """
    command = [sys.executable, "-m", "apps.demo.simulator",
               "--host", host, "--port", "0", "--seed", str(seed)]
    if log_path is not None:
        command += ["--log", str(log_path)]
    popen = subprocess.Popen(  # noqa: S603 - a fixed argv: this interpreter, our module
        command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    assert popen.stdout is not None
    readable, _, _ = select.select([popen.stdout], [], [], timeout)
    line = popen.stdout.readline() if readable else ""
    if not line.startswith(READY_PREFIX):
        process = SimulatorProcess(popen, "")
        code = process.stop()
        if not readable:
            raise TimeoutError(f"buyer simulator not listening after {timeout} s")
        raise RuntimeError(f"buyer simulator did not start (exit code {code}, said {line!r})")
    return SimulatorProcess(popen, line[len(READY_PREFIX):].strip())


@contextmanager
def simulator_process(seed: int = 1, *, log_path: str | Path | None = None) -> Iterator[str]:
    """Run a simulator subprocess for the ``with`` block and yield its base URL.

    The URL looks like ``http://127.0.0.1:54321``; the process gets SIGTERM on exit.
    """
    with start_simulator_process(seed, log_path=log_path) as process:
        yield process.url
