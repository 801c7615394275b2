"""The package table of docs/architecture.md, enforced: what each package may import.

- A function package (``functions/<name>/``) is deployed alone with the layer, so it
  imports only itself and ``loyalty``; the layer imports no function package.
- Inside ingest, dependencies go one way: ``members`` may use ``events``; ``events``
  and ``storefronts`` use no other part of ingest.
- Pure modules (the logic a handler calls, the ledger, the member derivations) touch
  no AWS: no boto3, no botocore, no ``loyalty.aws`` or ``loyalty.dynamo`` and no
  repository, directly or through a module of the layer that loads one (a layer
  module's imports inside functions load on first use and are not followed).
- Logic modules build no API responses: they import no ``models`` module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
LAYER = ROOT / "layers" / "common" / "python"
PACKAGES = ("ingest", "points", "care_rules", "tickets", "reports")
FIRST_PARTY = (*PACKAGES, "loyalty", "infra")

# Layer modules that reach AWS when used (a pure module must not import them).
AWS_MODULES = ("boto3", "botocore", "loyalty.aws", "loyalty.dynamo", "loyalty.once", "loyalty.emailer")
# The commit helper classifies botocore's exceptions (which faults to retry) and calls
# only the functions it is given: the logic may run its decisions through it.
NOT_AWS = ("loyalty.commit",)

PURE = (
    "care_rules/backtest.py",
    "care_rules/compose.py",
    "care_rules/engine.py",
    "care_rules/layout.py",
    "care_rules/triggers.py",
    "care_rules/rendering.py",
    "care_rules/tasks.py",
    "reports/changes.py",
    "reports/figures.py",
    "reports/layout.py",
    "reports/orders.py",
    "reports/rebuild.py",
    "reports/record_counts.py",
    "reports/kpis.py",
    "reports/periods.py",
    "reports/rollup.py",
    "reports/email.py",
    "reports/csv_export.py",
    "reports/labels.py",
    "reports/service.py",
    "tickets/logic.py",
    "tickets/calendar.py",
    "tickets/service_config.py",
    "tickets/workflow.py",
    "tickets/sla.py",
    "tickets/csat.py",
    "tickets/assignment.py",
    "tickets/escalation.py",
    "tickets/domain.py",
    "tickets/layout.py",
    "tickets/items.py",
    "tickets/desk.py",
    "tickets/views.py",
    "points/logic.py",
    "points/operation.py",
    "points/store.py",
    "points/ledger/*.py",
    "ingest/events/logic.py",
    "ingest/events/privacy.py",
    "ingest/members/projection.py",
    "ingest/members/segments.py",
    "ingest/members/state.py",
    "ingest/members/view.py",
    "ingest/storefronts/logic.py",
)

# Pure modules of the layer, which pure function code may import.
LAYER_PURE = (
    "loyalty/messages.py",
    "loyalty/errors.py",
    "loyalty/credentials/model.py",
    "loyalty/staff/model.py",
    "loyalty/events/models.py",
    "loyalty/unsubscribe.py",
)

# Inside ingest: sub-package -> the other sub-packages it may import.
INGEST = {"events": set(), "members": {"events"}, "storefronts": set()}


def imported(path: Path) -> set[str]:
    """Every absolute module a file imports, also from inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def _sources(base: Path) -> list[Path]:
    files = sorted(base.rglob("*.py"))
    assert files, base
    return files


@pytest.mark.parametrize("package", PACKAGES)
def test_a_function_package_imports_only_itself_and_the_layer(package: str) -> None:
    for path in _sources(FUNCTIONS / package):
        own = (package, "loyalty")
        foreign = {m for m in imported(path) if _top(m) in FIRST_PARTY and _top(m) not in own}
        assert not foreign, f"{path.relative_to(ROOT)} imports {sorted(foreign)}"


def test_the_layer_imports_no_function_package() -> None:
    for path in _sources(LAYER / "loyalty"):
        foreign = {m for m in imported(path) if _top(m) in (*PACKAGES, "infra")}
        assert not foreign, f"{path.relative_to(ROOT)} imports {sorted(foreign)}"


@pytest.mark.parametrize("sub", sorted(INGEST))
def test_ingest_dependencies_go_one_way(sub: str) -> None:
    for path in _sources(FUNCTIONS / "ingest" / sub):
        used = {m.split(".")[1] for m in imported(path) if m.startswith("ingest.") and m.count(".") >= 1}
        assert used <= INGEST[sub] | {sub}, f"{path.relative_to(ROOT)} uses ingest.{sorted(used - {sub})}"


def imported_at_load(path: Path) -> set[str]:
    """The absolute modules a file imports when it is loaded: its top-level imports,
    not those under ``if TYPE_CHECKING:`` nor inside functions (loaded on first use)."""
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _layer_module(name: str) -> Path | None:
    base = LAYER / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _reaches_aws(name: str, seen: set[str]) -> str | None:
    """The AWS-touching module ``name`` imports (itself or through the layer), or None."""
    if name in seen or name.startswith(NOT_AWS):
        return None
    seen.add(name)
    if name.startswith(AWS_MODULES) or name.endswith(".repository"):
        return name
    if _top(name) != "loyalty":
        return None
    # Loading a module loads its packages first: each ``__init__`` counts too.
    parts = name.split(".")
    loaded = [".".join(parts[:n]) for n in range(2, len(parts) + 1)]
    for module in loaded:
        path = _layer_module(module)
        if path is None or module in seen and module != name:
            continue
        seen.add(module)
        for inner in imported_at_load(path):
            found = _reaches_aws(inner, seen)
            if found:
                return f"{module} -> {found}"
    return None


def _pure_modules() -> list[Path]:
    paths = [p for pattern in PURE for p in sorted(FUNCTIONS.glob(pattern))]
    assert len(paths) >= len(PURE), "a pure module listed here is missing"
    layer = [LAYER / name for name in LAYER_PURE]
    assert all(p.is_file() for p in layer), "a pure layer module listed here is missing"
    return paths + layer


@pytest.mark.parametrize("path", _pure_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_modules_touch_no_aws(path: Path) -> None:
    seen: set[str] = set()
    names = sorted(imported(path))
    if path.is_relative_to(LAYER):  # its packages' __init__ load with it
        names.append(".".join(path.relative_to(LAYER).with_suffix("").parts))
    reached = [found for name in names if (found := _reaches_aws(name, seen))]
    assert not reached, f"{path.relative_to(ROOT)} reaches AWS through {reached}"


@pytest.mark.parametrize("package", PACKAGES)
def test_logic_builds_no_api_response(package: str) -> None:
    for path in sorted((FUNCTIONS / package).rglob("logic.py")):
        models = {m for m in imported(path) if m.split(".")[-1] == "models" or ".models." in m}
        models = {m for m in models if not m.startswith("loyalty.events")}  # the event schema
        assert not models, f"{path.relative_to(ROOT)} imports {sorted(models)}"
