"""``manage.py rotate_keys``: re-seal every sealed column under the first key of
``PII_ENCRYPTION_KEYS`` (apps.core.rekeying), or with ``--check`` only count what is left."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.rekeying import keys_rotate, stale_count
from apps.core.sealing import SealError, keyring


class Command(BaseCommand):
    help = ("Re-encrypt personal data and secrets under the first key of PII_ENCRYPTION_KEYS "
            "(and encrypt any value still stored in clear), in batches, while the platform "
            "runs. When --check reports 0 everywhere, the other keys may be removed.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=500,
                            help="Rows per transaction (default 500).")
        parser.add_argument("--check", action="store_true",
                            help="Change nothing: count the rows not yet under the first key; "
                                 "exit status 1 when any is left.")

    def handle(self, *args: Any, batch: int, check: bool, **options: Any) -> None:
        if batch < 1:
            raise CommandError("--batch must be at least 1.")
        primary = keyring().primary
        if check:
            left = stale_count()
            for label, count in left.items():
                self.stdout.write(f"{label}: {count} rows not under key {primary!r}")
            if any(left.values()):
                raise CommandError("Some rows are not under the first key: run rotate_keys.",
                                   returncode=1)
            self.stdout.write(self.style.SUCCESS(
                f"Every sealed value is under key {primary!r}: the other keys may go."))
            return
        try:
            done = keys_rotate(batch=batch)
        except SealError as exc:
            raise CommandError(str(exc)) from exc
        for label, count in done.items():
            self.stdout.write(f"{label}: {count} rows re-sealed")
        self.stdout.write(self.style.SUCCESS(
            f"Done: {sum(done.values())} rows now under key {primary!r}."))
