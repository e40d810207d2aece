"""Apps import leftwards only:
``core ← sources ← buyers ← leads ← webhooks ← auctions ← billing ← routing ← privacy ← reports
← ops ← demo``.

``privacy`` (consumer erasure) sits right of every app whose rows an erasure scrubs; the
suppression list and its capture-time check live in ``leads``, left of everything that
captures.

``webhooks`` sits left of ``auctions`` because the auction writes the outbox row of a
source webhook in the same transaction as the lead's outcome (``source_event_record``).

The one sanctioned edge to the right is a service importing another app's task module (the
task imports its service inside its body). The demo app sits at the right end: it may use
every domain app, and no domain app names it — not in an import, not in a dotted path.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import apps

P = pytest.param
ORDER = ["core", "sources", "buyers", "leads", "webhooks", "auctions", "billing", "routing",
         "privacy", "reports", "ops", "demo"]
APPS_DIR = Path(apps.__file__).parent
SOURCES = sorted(p for p in APPS_DIR.rglob("*.py")
                 if "migrations" not in p.parts and p.parent != APPS_DIR)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(APPS_DIR.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(source: str, module: str, *, is_package: bool = False) -> list[str]:
    """Every module ``source`` (the text of ``module``) imports, relative ones resolved."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.append(base)
    return found


def upward(app: str, names: list[str]) -> list[str]:
    """The imports of ``names`` that reach an app right of ``app``, less the sanctioned
    ``apps.<app>.tasks`` edge (never into the demo app)."""
    wrong = []
    for name in names:
        parts = name.split(".")
        if parts[0] != "apps" or len(parts) < 2 or parts[1] not in ORDER:
            continue
        if ORDER.index(parts[1]) <= ORDER.index(app):
            continue
        if parts[1] != "demo" and len(parts) >= 3 and parts[2] == "tasks":
            continue
        wrong.append(name)
    return wrong


@pytest.mark.parametrize("path", [P(p, id=str(p.relative_to(APPS_DIR))) for p in SOURCES])
def test_every_app_imports_only_leftwards(path: Path) -> None:
    app = path.relative_to(APPS_DIR).parts[0]
    if app not in ORDER:
        pytest.fail(f"apps/{app} is not in the layering order {ORDER}")
    names = imported(path.read_text(encoding="utf-8"), module_name(path),
                     is_package=path.stem == "__init__")
    assert upward(app, names) == []


def test_no_domain_app_names_the_demo_app() -> None:
    """Not even as a string (``python -m apps.demo…``, ``import_string("apps.demo…")``): the
    product runs demo tooling, if at all, through its management commands."""
    naming = [str(p.relative_to(APPS_DIR)) for p in SOURCES
              if p.relative_to(APPS_DIR).parts[0] != "demo"
              and "apps.demo" in p.read_text(encoding="utf-8")]
    assert naming == []


@pytest.mark.parametrize(("app", "source", "expected"), [
    P("core", "from apps.leads.enrich import zip_lookup", ["apps.leads.enrich"],
      id="core-imports-leads"),
    P("leads", "from apps.auctions.services import auction_run", ["apps.auctions.services"],
      id="leads-imports-the-auction-service"),
    P("leads", "from apps.auctions.tasks import auction_run_task", [],
      id="leads-imports-the-auction-task"),
    P("auctions", "import apps.demo.dataset", ["apps.demo.dataset"], id="auctions-imports-demo"),
    P("auctions", "from apps.demo.tasks import x", ["apps.demo.tasks"],
      id="no-task-edge-into-demo"),
    P("demo", "from apps.reports.selectors import kpis\nfrom apps.auctions import services",
      [], id="demo-imports-anything"),
    P("reports", "from apps.auctions.models import Sale\nfrom apps.core import http", [],
      id="leftwards"),
])
def test_the_layering_check_catches_what_it_should(app, source, expected) -> None:
    assert upward(app, imported(source, f"apps.{app}.example")) == expected


def test_relative_imports_are_resolved() -> None:
    assert imported("from ..leads import enrich", "apps.core.process") == ["apps.leads"]
    assert imported("from . import enrich", "apps.leads", is_package=True) == ["apps.leads"]
