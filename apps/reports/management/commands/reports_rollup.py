from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from apps.reports.services import rollup_refresh


class Command(BaseCommand):
    help = "Rebuild the hourly report rollups of the last N days from the raw rows."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=1)

    def handle(self, *args, days: int, **options) -> None:
        now = timezone.now()
        rollup_refresh(now - timedelta(days=days), now)
        self.stdout.write(f"Rollups rebuilt for the last {days} day(s).")
