"""Ways to run a simulator: in the foreground until a signal, or on a background thread."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from apps.demo.simulator.server import serve

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def event_loop_factory() -> LoopFactory | None:
    """Return uvloop's loop factory when uvloop is installed, else None (asyncio's own)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run_server(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    seed: int = 1,
    log_path: str | Path | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve simulated buyers in the foreground until SIGTERM or SIGINT, then return.

    ``on_ready`` receives the base URL (e.g. ``http://127.0.0.1:54321``) once listening.
    Must be called from the main thread (signal handlers); see ``SimulatorThread``
    otherwise.
    """

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await serve(host, port, seed=seed, log_path=log_path, on_ready=on_ready, stop=stop)

    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(main())


class SimulatorThread:
    """A simulator serving from its own event loop on a daemon thread.

    Use as a context manager (``with SimulatorThread(seed=1) as sim: sim.url``) or call
    ``start_serving()`` and ``stop()``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        seed: int = 1,
        log_path: str | Path | None = None,
    ) -> None:
        self._thread = threading.Thread(target=self._run, name="buyer-simulator", daemon=True)
        self.host, self.port, self.seed, self.log_path = host, port, seed, log_path
        self.url = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
                runner.run(self._main())
        except BaseException as exc:  # reported to the thread that waits in start_serving
            self._error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        await serve(self.host, self.port, seed=self.seed, log_path=self.log_path,
                    on_ready=self._on_ready, stop=self._stop)

    def _on_ready(self, url: str) -> None:
        self.url = url
        self._ready.set()

    def start_serving(self, timeout: float = 10.0) -> str:
        """Start the thread and return the base URL once it listens.

        Raises the server's own error if it could not start, TimeoutError if it is slow.
        """
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"buyer simulator not listening after {timeout} s")
        if self._error is not None:
            raise RuntimeError("buyer simulator failed to start") from self._error
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, drop every connection and wait for the thread to end."""
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)

    def __enter__(self) -> SimulatorThread:
        self.start_serving()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


@contextmanager
def running_simulator(
    seed: int = 1, *, host: str = "127.0.0.1", log_path: str | Path | None = None
) -> Iterator[str]:
    """Run a simulator on a background thread for the ``with`` block; yield its base URL."""
    with SimulatorThread(host, 0, seed=seed, log_path=log_path) as simulator:
        yield simulator.url
