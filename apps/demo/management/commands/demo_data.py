from django.core.management.base import BaseCommand

from apps.demo.dataset import demo_data_load


class Command(BaseCommand):
    help = "Load the demo dataset (idempotent) and print its keys, login and URLs. Demo only."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")
        parser.add_argument("--simulator-url", default="http://127.0.0.1:8099",
                            help="Where `manage.py buyer_simulator` listens.")

    def handle(self, *args, base_url: str, simulator_url: str, **options) -> None:
        summary = demo_data_load(simulator_url)
        out = self.stdout.write
        out(f"Demo vertical: {summary.vertical.slug}")
        for name, key in summary.source_keys:
            out(f"Source {name!r} API key: {key}")
        out("Staff login (demo only): {} / {}".format(*summary.staff_login))
        out(f"Admin:        {base_url}/admin/")
        out(f"API docs:     {base_url}/api/docs/")
        out(f"Posting spec: {base_url}/verticals/{summary.vertical.slug}/spec")
        out(f"Simulator:    {summary.simulator_url}  (start it with "
            f"`python manage.py buyer_simulator --port "
            f"{summary.simulator_url.rsplit(':', 1)[-1]}`)")
        for company in summary.buyers:
            out(f"  buyer {company}")
