"""The package's layers, kept by an AST walk: imports point inward, and nothing imports in a cycle.

The rules are the README's layout table in code. A broken rule names the importing module,
the imported one and the line, so the fix is obvious from the CI log alone.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What each area of ``appliance`` may import of the package (besides itself). ``errors`` is
# the one error root every layer raises from.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "domain": {"errors"},
    "config": {"errors", "domain"},
    "storage": {"errors", "domain", "config"},
    "inference": {"errors", "domain"},
    "hw": {"errors", "domain", "config"},
    "lists": {"errors", "domain", "config", "storage", "inference"},
    "uplink": {"errors", "domain", "config", "storage", "lists", "hw"},
    "workflow": {"errors", "domain", "config", "storage", "lists", "inference", "hw", "uplink"},
    "web": {"errors", "domain", "config", "storage", "workflow", "hw"},
    "service": {"errors", "domain", "config", "storage", "lists", "inference", "hw", "uplink", "workflow", "web"},
    "bench": {"errors", "domain", "config", "storage", "lists", "inference", "hw", "uplink", "workflow"},
    "cli": {"errors", "domain", "config", "storage", "lists", "inference", "hw", "uplink", "workflow", "service",
            "bench", "web"},
    # The package's own metadata (__version__) and entry point.
    "__init__": set(),
    "__main__": {"cli"},
}
# The benchmark measures HQ's ingest beside the kiosk's drain: the one way back into hq.
APPLIANCE_MAY_IMPORT_HQ = {"bench"}

# HQ shares the uplink protocol, the list formats and the domain rules, and the shell of the
# commands and of config files; nothing of the kiosk's store, workflow, UI or devices.
HQ_MAY_IMPORT = (
    "appliance",  # __version__ only: ``from appliance import __version__``
    "appliance.errors",
    "appliance.domain",
    "appliance.uplink.protocol",
    "appliance.uplink.stick",  # the USB-stick export and receipt files
    "appliance.uplink.mqtt",
    "appliance.lists.bundle",
    "appliance.lists.csv_format",
    "appliance.inference.litert",
    "appliance.inference.face_pipeline",  # HQ embeds listed persons' photos as the kiosks do
    "appliance.config.common",
    "appliance.cli.common",
)

# ``kiosk-hq demo`` runs simulated kiosks beside HQ, and a simulated kiosk is the kiosk's own code
# (store, workflow, uplink) on simulated devices: only hq.demo may use the rest of appliance,
# and nothing of hq but the demo command imports hq.demo.
HQ_DEMO = "hq.demo"

# Commands import what they run inside the command, so ``kiosk --help`` does not load numpy,
# FastAPI and the models on a Pi; nowhere else may a module of the package be imported late.
LATE_IMPORTS_ALLOWED = ("appliance.cli", "hq.cli")


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    late: bool  # inside a function


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for top in ("appliance", "hq"):
        for path in sorted((ROOT / top).rglob("*.py")):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _resolve(name: str) -> str:
    """The module an import names: itself if it is one, else the package it comes from."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _edges(module: str, path: Path) -> list[Edge]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    edges: list[Edge] = []

    def visit(node: ast.AST, late: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue  # annotations only: never executed, never a cycle
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, True)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] in ("appliance", "hq"):
                        edges.append(Edge(module, _resolve(alias.name), child.lineno, late))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    source = ".".join(base + ([child.module] if child.module else []))
                else:
                    source = child.module or ""
                if source.split(".")[0] in ("appliance", "hq"):
                    for alias in child.names:
                        edges.append(Edge(module, _resolve(f"{source}.{alias.name}"), child.lineno, late))
            visit(child, late)

    visit(tree, False)
    return [edge for edge in edges if edge.target and edge.target != module]


EDGES = [edge for module, path in MODULES.items() for edge in _edges(module, path)]


def _area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _where(edge: Edge) -> str:
    return f"{edge.source} imports {edge.target} (line {edge.line})"


def test_every_appliance_module_belongs_to_a_known_area():
    unknown = sorted({_area(m) for m in MODULES if m.startswith("appliance")} - set(ALLOWED))
    assert not unknown, f"add these areas to ALLOWED and to the README's layout table: {unknown}"


def test_imports_point_inward():
    broken = []
    for edge in EDGES:
        if not edge.source.startswith("appliance"):
            continue
        source, target = _area(edge.source), edge.target
        if target.startswith("hq"):
            if source not in APPLIANCE_MAY_IMPORT_HQ:
                broken.append(_where(edge) + ": only the benchmark may use hq")
            continue
        target_area = _area(target)
        if target_area != source and target_area not in ALLOWED[source] and target != "appliance":
            broken.append(_where(edge) + f": {source} may import only {sorted(ALLOWED[source])}")
    assert not broken, "\n".join(broken)


def test_hq_shares_only_the_protocol_the_list_formats_and_the_domain():
    broken = []
    for edge in EDGES:
        if edge.source.startswith(HQ_DEMO):
            continue
        if edge.source.startswith("hq") and edge.target.startswith("appliance"):
            if not any(edge.target == allowed or edge.target.startswith(allowed + ".")
                       for allowed in HQ_MAY_IMPORT if allowed != "appliance") and edge.target != "appliance":
                broken.append(_where(edge))
    assert not broken, "hq may import only " + ", ".join(HQ_MAY_IMPORT) + ":\n" + "\n".join(broken)


def test_only_the_demo_command_uses_the_demo():
    users = sorted({edge.source for edge in EDGES if edge.target.startswith(HQ_DEMO)
                    and not edge.source.startswith(HQ_DEMO)})
    assert users == ["hq.cli.demo"], users


def test_web_and_cli_never_touch_the_database_connection():
    """The web layer and the commands call the workflow; SQL lives in storage, lists and the workflow."""
    broken = []
    for module, path in MODULES.items():
        if _area(module) not in ("web", "cli"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("conn", "execute", "executemany", "executescript"):
                broken.append(f"{module} line {node.lineno}: .{node.attr}")
    assert not broken, "\n".join(broken)


def test_no_late_imports_of_the_package_outside_commands():
    late = [_where(edge) for edge in EDGES
            if edge.late and not any(edge.source == p or edge.source.startswith(p + ".") for p in LATE_IMPORTS_ALLOWED)]
    assert not late, "import at the top of the module (a late import hides a cycle):\n" + "\n".join(late)


def _cycles(edges: list[Edge]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.source, set()).add(edge.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strongconnect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                strongconnect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            strongconnect(node)
    return found


def test_no_import_cycles():
    # A package importing its own submodules (``__init__`` re-exporting) is not a cycle of design;
    # a submodule importing its package back is, so both directions are kept.
    cycles = _cycles(EDGES)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_walk_sees_a_broken_rule():
    """The checks above would fail on a real violation (a guard against a walk that finds nothing)."""
    fake = [Edge("appliance.domain.mrz", "appliance.storage.store", 1, False),
            Edge("appliance.storage.store", "appliance.domain.mrz", 1, False)]
    assert _cycles(fake) == [["appliance.domain.mrz", "appliance.storage.store"]]
    assert "storage" not in ALLOWED["domain"]
    assert len(EDGES) > 200  # the walk found the package's imports
