from django.core.management.base import BaseCommand, CommandError

from apps.sources.models import Source, Vertical
from apps.sources.services import source_create


class Command(BaseCommand):
    help = "Create a lead source; prints its new API key (and nothing else) on stdout."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")
        parser.add_argument("--verticals", default="", help="Comma-separated vertical slugs.")
        parser.add_argument("--mode", choices=["sync", "async"], default="sync")

    def handle(self, *args, name: str, verticals: str, mode: str, **options) -> None:
        slugs = [s.strip() for s in verticals.split(",") if s.strip()]
        found = list(Vertical.objects.filter(slug__in=slugs))
        missing = sorted(set(slugs) - {v.slug for v in found})
        if missing:
            raise CommandError(f"Unknown vertical(s): {', '.join(missing)}")
        if Source.objects.filter(name=name).exists():
            raise CommandError(f"A source named {name!r} already exists.")
        _, key = source_create(name=name, verticals=found, default_mode=mode)
        self.stdout.write(key)
