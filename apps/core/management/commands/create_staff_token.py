from django.core.management.base import BaseCommand

from apps.core.services import DEFAULT_ROLE, ROLES, staff_role_describe, staff_token_create


class Command(BaseCommand):
    help = ("Create a staff API token (and the staff user if needed, in --role); prints only "
            "the token on stdout and what it may do on stderr.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--role", choices=ROLES,
            help=f"Put the user in this role. A new user without --role is a {DEFAULT_ROLE}; "
                 "an existing user without --role keeps its groups. account-manager edits "
                 "buyers, contracts, sources and verticals; manager reads everything; admin "
                 "is a superuser.")

    def handle(self, *args, username: str, role: str | None, **options) -> None:
        token = staff_token_create(username=username, role=role)
        self.stdout.write(token)
        self.stderr.write(f"Token for {staff_role_describe(username)}")
