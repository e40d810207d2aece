"""The auction engine stays plain Python: no Django, no other app, no network, no clock."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import apps.auctions.engine as engine_package

P = pytest.param
ENGINE = "apps.auctions.engine"
ENGINE_DIR = Path(engine_package.__file__).parent
ROOT = ENGINE_DIR.parents[2]
MODULES = sorted(
    ENGINE if path.stem == "__init__" else f"{ENGINE}.{path.stem}"
    for path in ENGINE_DIR.glob("*.py")
)
# Network and framework packages, and the clock: the engine is handed ``now`` and an rng.
FORBIDDEN_PACKAGES = {"django", "rest_framework", "celery", "requests", "aiohttp", "httpx",
                      "urllib3", "urllib", "http", "socket", "redis", "time"}
CLOCK_ATTRIBUTES = {"now", "utcnow", "today"}  # datetime.now(), date.today(), ...

IMPORT_EVERYTHING = """
import importlib, json, sys
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
print(json.dumps(sorted(sys.modules)))
"""


def test_importing_the_engine_loads_no_django() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING, json.dumps(MODULES)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    assert set(MODULES) <= set(loaded), "every engine module was imported"
    assert [m for m in loaded if m == "django" or m.startswith("django.")] == []
    outside = [m for m in loaded if m.startswith("apps.")
               and m not in {"apps.auctions"} and not m.startswith(ENGINE)]
    assert outside == []


def is_outside_the_engine(name: str) -> bool:
    top = name.partition(".")[0]
    if top in FORBIDDEN_PACKAGES:
        return True
    return top == "apps" and name != ENGINE and not name.startswith(f"{ENGINE}.")


def violations(source: str, module: str) -> list[str]:
    """What in ``source`` (the text of engine ``module``) reaches outside the engine."""
    found: list[str] = []
    package = module if module == ENGINE else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if is_outside_the_engine(a.name)]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0]
                base = f"{parent}.{base}" if base else parent
            if is_outside_the_engine(base):
                found.append(base)
        elif isinstance(node, ast.Attribute) and node.attr in CLOCK_ATTRIBUTES:
            found.append(f".{node.attr}")
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
              and node.value.id == "random" and node.attr != "Random"):
            found.append(f"random.{node.attr}")  # the rng is passed in
    return found


@pytest.mark.parametrize("path", [P(p, id=p.name) for p in sorted(ENGINE_DIR.glob("*.py"))])
def test_no_engine_module_imports_django_other_apps_network_or_the_clock(path: Path) -> None:
    module = ENGINE if path.stem == "__init__" else f"{ENGINE}.{path.stem}"
    assert violations(path.read_text(encoding="utf-8"), module) == []


@pytest.mark.parametrize(("source", "expected"), [
    P("import django", ["django"], id="django"),
    P("from django.conf import settings", ["django.conf"], id="django-settings"),
    P("from apps.buyers.models import Contract", ["apps.buyers.models"], id="another-app"),
    P("from apps.auctions import models", ["apps.auctions"], id="the-auctions-app-itself"),
    P("from .. import models", ["apps.auctions"], id="relative-import-out-of-the-engine"),
    P("import requests", ["requests"], id="requests"),
    P("import aiohttp.client", ["aiohttp.client"], id="aiohttp"),
    P("import time\nt = time.time()", ["time"], id="time-time"),
    P("from time import monotonic", ["time"], id="from-time-import-monotonic"),
    P("from datetime import datetime\nn = datetime.now()", [".now"], id="datetime-now"),
    P("import datetime\nn = datetime.datetime.utcnow()", [".utcnow"], id="dotted-utcnow"),
    P("from datetime import date as d\nn = d.today()", [".today"], id="aliased-date-today"),
    P("import random\nx = random.random()", ["random.random"], id="module-level-random"),
    P("from apps.auctions.engine.types import Bid\nfrom . import filters\n"
      "from datetime import datetime, time\nimport random\nr: random.Random", [],
      id="allowed-imports"),
])
def test_the_purity_check_catches_what_it_should(source: str, expected: list[str]) -> None:
    assert violations(source, f"{ENGINE}.example") == expected
