"""A fake lead buyer server that imitates any number of buyers and all their misbehaviour.

Each buyer is nothing but a URL: the path's last segment says ping or post, the part
before it names the buyer, and the query string configures it (bid, no-bid and reject
rates, latency, failures, wire format, token round trip; see ``config``). Plain Python
and raw asyncio only, so it runs without Django and never limits a benchmark.

Start it with ``python -m apps.demo.simulator --port 0 --seed 1`` (or ``manage.py
buyer_simulator``), in-process with ``SimulatorThread``/``running_simulator``, or as a
subprocess from tests with ``apps.demo.simulator.testing.simulator_process``.
"""

from apps.demo.simulator.runner import SimulatorThread, run_server, running_simulator
from apps.demo.simulator.server import serve

__all__ = ["SimulatorThread", "run_server", "running_simulator", "serve"]
