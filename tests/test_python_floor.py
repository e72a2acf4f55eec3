"""One Python floor everywhere: the package needs 3.10 (``isinstance(x, A | B)``, ``zip(strict=)``), and pyproject's
requires-python, ruff's target-version, mypy's python_version, environment.yml and the README all name it."""

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FLOOR = (3, 10)


def _one(pattern: str, text: str, where: str) -> tuple[int, int]:
    found = re.findall(pattern, text, flags=re.MULTILINE)
    assert len(found) == 1, f"{where}: expected one match of {pattern!r}, found {found}"
    major, minor = found[0]
    return int(major), int(minor)


def test_every_file_names_the_same_floor():
    pyproject = (REPO / "pyproject.toml").read_text()
    floors = {
        "requires-python": _one(r'^requires-python = ">=(\d)\.(\d+)"$', pyproject, "pyproject.toml"),
        "ruff target-version": _one(r'^target-version = "py(\d)(\d+)"$', pyproject, "pyproject.toml"),
        "mypy python_version": _one(r'^python_version = "(\d)\.(\d+)"$', pyproject, "pyproject.toml"),
        "environment.yml": _one(
            r"^\s*- python=(\d)\.(\d+)\b", (REPO / "environment.yml").read_text(), "environment.yml"
        ),
        "README": _one(r"Python (\d)\.(\d+)\+", (REPO / "README.md").read_text(), "README.md"),
    }
    assert set(floors.values()) == {FLOOR}, floors


def test_this_interpreter_is_at_or_above_the_floor():
    assert sys.version_info[:2] >= FLOOR
