"""The Colab route: install the package exactly as the notebooks' first cell does (from git, here a git+file:// URL
of a clone of this working tree), then, outside the checkout, load the bundled models and run a notebook."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
FIRST_CELL_PIP = re.compile(r'%pip install -q "(gsoc_helpers\[notebooks\]) @ (git\+https://[^"]+)"')


def _run(cmd: list[str], cwd: Path, env: dict, timeout: int = 600) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def _clone_of_working_tree(dest: Path) -> Path:
    """A git repository holding this working tree's files (tracked and untracked-not-ignored), committed."""
    files = (
        subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
        )
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, files):
        if (REPO / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dest / rel)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@localhost", "-c", "commit.gpgsign=false"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"]):
        subprocess.run(git + args, cwd=dest, check=True, capture_output=True)
    return dest


@pytest.mark.slow
def test_install_from_git_then_bundled_models_and_notebook_outside_checkout(tmp_path):
    first = nbformat.read(str(REPO / "notebooks" / "01_teacher_sampling.ipynb"), as_version=4).cells[1].source
    match = FIRST_CELL_PIP.search(first)
    assert match, f"first code cell no longer installs from git: {first!r}"
    clone = _clone_of_working_tree(tmp_path / "clone")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # Saves re-downloading torch & co. (~2 GB): the fresh venv sees the project venv's site-packages AFTER its own,
    # so pip finds the dependencies already satisfied but installs gsoc_helpers itself into the fresh venv.
    # (Plain path lines only: that venv's editable-install hooks are not run.)  pip itself also comes from there:
    # a recent pip, as on Colab (the pip that ensurepip bundles with Python 3.11 rejects git+file:// requirements).
    (site / "_shared_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    env = {k: v for k, v in os.environ.items() if not k.startswith(("GSOC_", "PYTHONPATH", "VIRTUAL_ENV"))}
    env.update(
        GSOC_CACHE_DIR=str(tmp_path / "cache"),
        GSOC_OUTPUT_DIR=str(tmp_path / "outputs"),
        MPLBACKEND="Agg",
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
    )
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    requirement = f"{match.group(1)} @ git+{clone.as_uri()}"  # the cell's requirement, URL of the clone
    _run([str(python), "-m", "pip", "install", "-q", requirement], outside, env)

    out = _run(
        [
            str(python),
            "-c",
            (
                "import gsoc_helpers, torch\n"
                "from gsoc_helpers.config import bundled_dir\n"
                "from gsoc_helpers.models.registry import load_generator\n"
                "t, s = load_generator('offline-teacher'), load_generator('student')\n"
                "x = s(torch.randn(2, s.z_dim), torch.tensor([0, 1]))\n"
                "from gsoc_helpers.app.server import APP_NOTEBOOK, voila_command\n"
                "assert APP_NOTEBOOK.is_file() and str(APP_NOTEBOOK) in voila_command(8866)\n"
                "print(gsoc_helpers.__file__); print(bundled_dir()); print(tuple(x.shape), type(t).__name__)"
            ),
        ],
        outside,
        env,
    )  # the web app's notebook ships in the package too (both lists of package data are one)
    package_file, bundled, result = out.strip().splitlines()[-3:]
    assert Path(package_file).is_relative_to(site) and not Path(package_file).is_relative_to(REPO)
    assert Path(bundled) == site / "gsoc_helpers" / "bundled" and (Path(bundled) / "student.safetensors").is_file()
    assert result.startswith("(2, 3, 32, 32)")

    _run(
        [
            str(python),
            "-m",
            "gsoc_helpers",
            "demo",
            "--profile",
            "quick",
            "--smoke",
            "--only",
            "01",
            "--notebook-dir",
            str(clone / "notebooks"),
            "--out",
            str(tmp_path / "demo"),
        ],
        outside,
        env,
    )
    summary = (tmp_path / "demo" / "SUMMARY.md").read_text()
    assert "| 01_teacher_sampling.ipynb | ok |" in summary, summary
