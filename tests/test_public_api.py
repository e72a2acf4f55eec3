"""The curated public API: ``from gsoc_helpers import NAME`` for every name of the tutorial, imported lazily from
the module that defines it, and listed once in docs/reference.md (the README links to it)."""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import gsoc_helpers

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "reference.md"


def test_importing_the_package_imports_no_heavy_library():
    code = (
        "import sys, gsoc_helpers; "
        "print(sorted(m for m in ('torch', 'openvino', 'nncf', 'torch_fidelity') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("name", sorted(gsoc_helpers.PUBLIC_API))
def test_every_public_name_comes_from_its_defining_module(name):
    module = importlib.import_module(gsoc_helpers.PUBLIC_API[name], "gsoc_helpers")
    value = getattr(gsoc_helpers, name)
    assert value is getattr(module, name)
    if inspect.isclass(value) or inspect.isfunction(value):  # defined there, not re-exported through it
        assert value.__module__ == module.__name__, f"{name} is defined in {value.__module__}, not {module.__name__}"
    assert name in dir(gsoc_helpers)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        gsoc_helpers.no_such_name  # noqa: B018


def test_reference_table_lists_the_public_api():
    """docs/reference.md's "Public API" table names every exported name (in backticks)."""
    section = REFERENCE.read_text().split("## Public API", 1)[1].split("\n## ", 1)[0]
    rows = "\n".join(ln for ln in section.splitlines() if ln.startswith("|"))
    missing = sorted(set(gsoc_helpers.PUBLIC_API) - set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", rows)))
    assert not missing, f"not in docs/reference.md's Public API table: {missing}"


def test_all_lists_the_public_api_for_star_imports_and_type_checkers():
    assert gsoc_helpers.__all__ == ["PUBLIC_API", "__version__", *gsoc_helpers.PUBLIC_API]


def test_type_checkers_see_every_public_name_from_its_module():
    """The ``if TYPE_CHECKING:`` block (what mypy, pyright and IDEs read; never run) imports exactly PUBLIC_API."""
    import ast

    tree = ast.parse(Path(gsoc_helpers.__file__).read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    seen = {
        a.name: "." * i.level + (i.module or "") for i in block.body if isinstance(i, ast.ImportFrom) for a in i.names
    }
    assert seen == gsoc_helpers.PUBLIC_API
