"""``manage.py buyer_simulator``: run the bundled buyer simulator (see apps.demo.simulator)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.demo.simulator import run_server


class Command(BaseCommand):
    help = "Serve simulated lead buyers (ping/post endpoints) until SIGTERM or Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8099, help="0 picks a free port")
        parser.add_argument("--seed", type=int, default=1, help="makes a run reproducible")
        parser.add_argument("--log", metavar="FILE",
                            help="append one JSON line per answered ping or post")

    def handle(self, *args: Any, **options: Any) -> None:
        def announce(url: str) -> None:
            self.stdout.write(f"listening on {url}")
            self.stdout.flush()

        try:
            run_server(options["host"], options["port"], seed=options["seed"],
                       log_path=options["log"], on_ready=announce)
        except OSError as error:  # the port is taken, most likely
            raise CommandError(f"Cannot listen on {options['host']}:{options['port']}: "
                               f"{error.strerror or error}.") from None
