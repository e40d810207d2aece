"""``make run``: the whole platform on the embedded default, with demo data, in one terminal."""

from __future__ import annotations

import json
import os
import random
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from urllib.error import URLError

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from apps.demo.dataset import DEMO_SOURCES, demo_data_load, demo_lead_fields
from apps.leads.models import Lead


def demo_curl(base_url: str) -> str:
    """A copy-paste curl that submits a fresh demo lead (random e-mail and phone, so it is
    not a duplicate; run it twice to see the duplicate answer)."""
    fields = demo_lead_fields(random.Random())
    body = json.dumps({"vertical": "auto-insurance", "sub_id": "demo", "fields": fields})
    return (
        f"curl -s -X POST {base_url}/api/v1/leads "
        f"-H {shlex.quote('Authorization: Bearer ' + DEMO_SOURCES[0].key)} "
        f"-H 'Content-Type: application/json' -d {shlex.quote(body)}"
    )


class Command(BaseCommand):
    help = "Serve the platform with demo data and print its URLs and a working curl."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=64)
        parser.add_argument("--simulator-port", type=int, default=8099)

    def handle(self, *args, host: str, port: int, threads: int, simulator_port: int,
               **options) -> None:
        base_url = f"http://{host}:{port}"
        simulator_url = f"http://127.0.0.1:{simulator_port}"
        summary = demo_data_load(simulator_url)
        if not Lead.objects.exists():  # a first start: a week of history for the dashboards
            self.stdout.write("Generating a week of synthetic demo history (first start)…")
            self.stdout.flush()
            call_command("generate_leads", count=3000, days=7, seed=1, buyers=0,
                         verbosity=0)
        # The demo's buyers are the local simulator: let the SSRF guard admit loopback.
        env = {**os.environ, "HTTP_ALLOWED_NETWORKS": "127.0.0.1/32"}
        python = sys.executable
        children = [
            subprocess.Popen([python, "-m", "apps.demo.simulator",  # noqa: S603
                              "--port", str(simulator_port)], stdout=subprocess.DEVNULL),
            subprocess.Popen([  # noqa: S603 - fixed argv, our own interpreter
                python, "-m", "gunicorn", settings.WSGI_APPLICATION.rsplit(".", 1)[0],
                "--bind", f"{host}:{port}", "--workers", "1", "--worker-class", "gthread",
                "--threads", str(threads), "--graceful-timeout", "5"], env=env),
            subprocess.Popen([python, "manage.py", "run_periodic"], env=env),  # noqa: S603
            subprocess.Popen([python, "manage.py", "demo_traffic",  # noqa: S603
                              "--url", base_url, "--every", "3"], env=env),
        ]
        web = children[1]
        try:
            self._wait_until_up(f"{base_url}/api/v1/verticals/auto-insurance/spec", web)
            out = self.stdout.write
            out("")
            out("leadexchange is running (embedded default: SQLite, in-process auctions).")
            out(f"  Admin:        {base_url}/admin/   (login {summary.staff_login[0]} / "
                f"{summary.staff_login[1]}, demo only)")
            out(f"  Dashboards:   {base_url}/dashboard/   (demo traffic: a lead every ~3 s)")
            out(f"  API docs:     {base_url}/api/docs/")
            out(f"  Posting spec: {base_url}/verticals/auto-insurance/spec")
            out(f"  Buyers:       {len(summary.buyers)} demo buyers on the simulator at "
                f"{simulator_url}")
            for name, key in summary.source_keys:
                out(f"  Source {name!r} key: {key}")
            out("")
            out("Submit a lead:")
            out(f"  {demo_curl(base_url)}")
            out("")
            out("Ctrl-C stops everything.")
            self.stdout.flush()  # seen at once even when the output is a pipe or a file
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            raise CommandError("A child process stopped; see its output above.")
        except KeyboardInterrupt:
            pass
        finally:
            for child in children:
                if child.poll() is None:
                    child.terminate()
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()

    @staticmethod
    def _wait_until_up(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise CommandError("The web server failed to start; see its output above.")
            try:
                with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - our own local URL
                    return
            except (URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        raise CommandError(f"The web server did not answer {url} within {timeout:.0f} s.")
