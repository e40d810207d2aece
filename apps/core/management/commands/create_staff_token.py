from django.core.management.base import BaseCommand

from apps.core.services import staff_token_create


class Command(BaseCommand):
    help = "Create a staff API token (and the staff user if needed); prints only the token."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")

    def handle(self, *args, username: str, **options) -> None:
        self.stdout.write(staff_token_create(username=username))
