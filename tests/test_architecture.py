"""The layering of docs/architecture.md, beyond what import-linter's contracts say alone.

``lint-imports`` (run by scripts/test) checks the layers contract in pyproject.toml; a
module that no layer names is simply not checked. These tests close that hole, and check
what a layer of ``:`` siblings cannot: that no import chain, module-level or inside a
function, ever comes back to where it started. Both read the graph import-linter itself
builds (grimp), not a parser of our own.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("chat", "escalation")
# Not product code: Alembic's environment and revision scripts are loaded by Alembic.
OUTSIDE_THE_LAYERS = ("chat.migrations",)


@cache
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def product_modules() -> set[str]:
    found = set()
    for module in graph().modules:
        if module.split(".")[0] not in PACKAGES or module in PACKAGES:
            continue
        if any(module == skip or module.startswith(skip + ".") for skip in OUTSIDE_THE_LAYERS):
            continue
        found.add(module)
    return found


def layer_entries() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    entries: list[str] = []
    for layer in layers:
        for sibling in layer.replace("|", ":").split(":"):
            entries.append(sibling.strip())
    return entries


def test_every_module_is_in_a_layer() -> None:
    entries = layer_entries()
    assert len(entries) == len(set(entries)), "a module is named in two layers"

    def placed(module: str) -> bool:
        return any(module == e or module.startswith(e + ".") for e in entries)

    # A package's __init__ counts as placed when its modules are (it holds no code).
    unplaced = sorted(
        m for m in product_modules()
        if not placed(m) and not (graph().find_children(m) and Path(ROOT, *m.split("."), "__init__.py").exists())
    )
    assert unplaced == [], "put these modules in a layer of pyproject.toml's layers contract"


def test_no_import_comes_back_around() -> None:
    g = graph()
    modules = product_modules()
    cycles = []
    for importer in sorted(modules):
        for imported in sorted(g.find_modules_directly_imported_by(importer) & modules):
            chain = g.find_shortest_chain(importer=imported, imported=importer)
            if chain is not None:
                cycles.append(" -> ".join((importer, *chain)))
    assert cycles == []
