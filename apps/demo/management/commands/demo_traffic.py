"""``make run``'s demo traffic: a lead now and then through the real API, so the live view
moves and the dashboards fill. Mostly good leads, now and then a bad one (a 400 for the
rejection figures) or a resubmission (a 409). Demo only."""

from __future__ import annotations

import json
import random
import time
import urllib.request
from urllib.error import HTTPError, URLError

from django.core.management.base import BaseCommand

from apps.demo.dataset import DEMO_SOURCES, demo_lead_fields


class Command(BaseCommand):
    help = "Submit demo leads to a running leadexchange every few seconds (demo only)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000")
        parser.add_argument("--every", type=float, default=3.0, help="seconds between leads")
        parser.add_argument("--count", type=int, default=0, help="stop after N (0: never)")
        parser.add_argument("--seed", type=int, default=None)

    def handle(self, *args, url: str, every: float, count: int, seed: int | None,
               **options) -> None:
        rng = random.Random(seed)
        sent, last = 0, None
        while not count or sent < count:
            source = rng.choice(DEMO_SOURCES)
            sub_id, fields = f"demo-{rng.randrange(1, 6)}", demo_lead_fields(rng)
            body = {"vertical": "auto-insurance", "sub_id": sub_id, "fields": fields}
            roll = rng.random()
            if roll < 0.05:
                fields["email"] = "not-an-email"  # rejected
            elif roll < 0.08 and last is not None:
                body = last  # a resubmission: duplicate
            last = body
            self._submit(url, source.key, body)
            sent += 1
            time.sleep(rng.uniform(0.5, 1.5) * every)

    @staticmethod
    def _submit(url: str, key: str, body: dict) -> None:
        request = urllib.request.Request(  # noqa: S310 - our own local server
            f"{url}/api/v1/leads", data=json.dumps(body).encode(), method="POST",
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10):  # noqa: S310
                pass
        except HTTPError:
            pass  # 400/409 are part of the demo
        except (URLError, TimeoutError, ConnectionError):
            time.sleep(2)  # the server is starting or stopping
