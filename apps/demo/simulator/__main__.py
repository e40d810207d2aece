"""``python -m apps.demo.simulator``: serve simulated buyers until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse

from apps.demo.simulator.runner import run_server

DEFAULT_PORT = 8099


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, serve, and print ``listening on URL`` once listening."""
    parser = argparse.ArgumentParser(prog="python -m apps.demo.simulator",
                                     description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=1, help="makes a run reproducible")
    parser.add_argument("--log", metavar="FILE",
                        help="append one JSON line per answered ping or post")
    args = parser.parse_args(argv)
    run_server(args.host, args.port, seed=args.seed, log_path=args.log,
               on_ready=lambda url: print(f"listening on {url}", flush=True))


if __name__ == "__main__":
    main()
