"""``manage.py demo_data``: load the demo dataset and print what a visitor needs to try it."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from apps.demo.dataset import DemoDataError, demo_curl, demo_data_load, demo_ping_curls


class Command(BaseCommand):
    help = ("Load the demo dataset (idempotent) and print its keys, login, URLs and a curl. "
            "Demo only. Its buyers are the local simulator: HTTP_ALLOWED_NETWORKS must admit "
            "it (127.0.0.1/32).")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")
        parser.add_argument("--simulator-url", default="http://127.0.0.1:8099",
                            help="Where `manage.py buyer_simulator` listens.")

    def handle(self, *args, base_url: str, simulator_url: str, **options) -> None:
        try:
            summary = demo_data_load(simulator_url)
        except DemoDataError as error:
            raise CommandError(str(error)) from None
        out = self.stdout.write
        out(f"Demo vertical: {summary.vertical.slug}")
        for name, key in summary.source_keys:
            out(f"Source {name!r} API key: {key}")
        out("Staff login (demo only): {} / {}".format(*summary.staff_login))
        out(f"Admin:        {base_url}/admin/")
        out(f"Dashboards:   {base_url}/dashboard/")
        out(f"API docs:     {base_url}/api/docs/")
        out(f"Posting spec: {base_url}/verticals/{summary.vertical.slug}/spec")
        out(f"Simulator:    {summary.simulator_url}  (served by `python manage.py "
            f"buyer_simulator --port {summary.simulator_url.rsplit(':', 1)[-1]}`)")
        for company in summary.buyers:
            out(f"  buyer {company}")
        out("Submit a lead (run it twice to see the duplicate answer):")
        out(f"  {demo_curl(base_url)}")
        ping, post = demo_ping_curls(base_url)
        out("Ping first, then post the lead (put the answer's ping_id in the second):")
        out(f"  {ping}")
        out(f"  {post}")
        company, buyer_key = summary.buyer_key
        out(f"Buyer {company!r} returns API key: {buyer_key}")
        out("  Its returns (POST the same URL with {\"lead_id\", \"reason\"} to file one):")
        out(f"  curl -s {base_url}/api/v1/returns -H 'Authorization: Bearer {buyer_key}'")
