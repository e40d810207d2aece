"""``manage.py consumer_erase --email … --phone …``: erase one consumer now (in this process,
batch by batch) and suppress it; prints the request's id and how many leads it erased."""

from django.core.management.base import BaseCommand, CommandError

from apps.core.exceptions import FieldErrors
from apps.privacy.services import erasure_request


class Command(BaseCommand):
    help = ("Erase a consumer's personal data from every lead (by e-mail and/or phone) and put "
            "the consumer on the suppression list. Safe to repeat.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--email", default=None, help="The consumer's e-mail address.")
        parser.add_argument("--phone", default=None,
                            help="The consumer's phone (US, or + and the country code).")

    def handle(self, *args, email: str | None, phone: str | None, **options) -> None:
        try:
            done = erasure_request(email=email, phone=phone, requested_by=None,
                                   channel="command", run_inline=True)
        except FieldErrors as error:
            raise CommandError("; ".join(f"--{key}: {' '.join(messages)}"
                                         for key, messages in error.errors.items())) from None
        self.stdout.write(f"erasure {done.pk}: {done.leads_erased} lead(s) erased, "
                          f"consumer suppressed")
