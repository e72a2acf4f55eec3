"""The Binder route: repo2docker (the tool mybinder.org builds with) turns environment.yml into a Dockerfile that
copies the repository *before* anything installs it (``-e .[notebooks]`` needs pyproject.toml and setup.py there).

``repo2docker --no-build --debug`` writes that Dockerfile to its log without Docker; the test runs it on a copy of
the checkout's tracked files, as Binder would see a clone."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tracked_copy(dest: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for rel in filter(None, files.decode().split("\0")):
        src = ROOT / rel
        if src.is_file():  # a tracked file deleted in the working tree is not part of the copy
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def _dockerfile(repo: Path) -> list[str]:
    exe = Path(sys.executable).with_name("repo2docker")
    assert exe.is_file(), "repo2docker is missing: it is in the dev extra (pip install -e '.[dev]')"
    run = subprocess.run(
        [str(exe), "--no-build", "--no-run", "--debug", str(repo)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    lines = (run.stdout + run.stderr).splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("FROM "))
    return lines[start:]


def _order(lines: list[str]) -> tuple[int, int]:
    """(line of the COPY of the whole repository, first line that installs from environment.yml)."""
    copy_all = [i for i, ln in enumerate(lines) if ln.startswith("COPY") and "src/ ${REPO_DIR}/" in ln]
    install = [i for i, ln in enumerate(lines) if "env update" in ln and "environment.yml" in ln]
    assert copy_all and install, "\n".join(lines)
    return copy_all[0], install[0]


@pytest.mark.slow
def test_repo2docker_copies_the_repository_before_installing_it(tmp_path):
    repo = _tracked_copy(tmp_path / "repo")
    assert (repo / "environment.yml").is_file() and (repo / "pyproject.toml").is_file()
    copy_all, install = _order(_dockerfile(repo))
    assert copy_all < install, "Binder would install the package before the repository is in the image"


@pytest.mark.slow
def test_quoted_local_install_is_what_breaks_binder(tmp_path):
    """The control: the form environment.yml used to have (`-e ".[notebooks]"`) makes repo2docker install first
    (pip then fails: "neither 'setup.py' nor 'pyproject.toml' found"), so the test above can tell them apart."""
    repo = _tracked_copy(tmp_path / "repo")
    env = repo / "environment.yml"
    env.write_text(env.read_text().replace("- -e .[notebooks]", '- -e ".[notebooks]"'))
    assert '"' in env.read_text()
    copy_all, install = _order(_dockerfile(repo))
    assert install < copy_all
