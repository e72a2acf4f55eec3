"""No dead code at the top level of the package: every public function, class and module constant of gsoc_helpers
is named somewhere besides its definition (the package, its app, the tests, the benchmarks, the notebooks, the
README or docs/reference.md). Names starting with ``_`` and the sub-commands' ``register``/``main`` hooks are not checked."""

import ast
import re
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SKIP = {"main", "register", "__all__", "__version__"}


def _top_level_names(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return [n for n in names if not n.startswith("_") and n not in SKIP]


def test_every_public_top_level_name_is_used():
    package = sorted((REPO / "gsoc_helpers").rglob("*.py"))
    readers = [
        *package,
        *(REPO / "gsoc_helpers").rglob("*.ipynb"),
        *(REPO / "tests").rglob("*.py"),
        *(REPO / "benchmarks").glob("*.py"),
        *(REPO / "notebooks").glob("*.ipynb"),
        REPO / "README.md",
        REPO / "docs" / "reference.md",
    ]
    words = Counter(re.findall(r"\w+", "\n".join(p.read_text() for p in readers)))
    unused = [
        f"{path.relative_to(REPO)}: {name}"
        for path in package
        for name in _top_level_names(path)
        if words[name] <= 1  # the definition only
    ]
    assert not unused, unused
