"""``--overwrite`` replaces only a folder an earlier run of the same command wrote (its ``.gsoc-helpers.json``
mark), never a data root, a cache, a user's package or any unmarked folder; two runs into one output folder do not
interleave: the second is refused at once (issue #29)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cli_checks import QUANTIZE_FAST, assert_refused, tiny_train_teacher
from doubles import tiny_onnx

from gsoc_helpers.cli import main
from gsoc_helpers.safety import OUTPUT_MARK, mark_output, output_owner

from conftest import write_image_folder, write_tiny_synthetic

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no flock: runs are not locked there")


@pytest.fixture
def onnx(tmp_path: Path) -> str:
    return str(tiny_onnx(tmp_path / "model" / "tiny.onnx"))


def _folders(tmp_path: Path, monkeypatch) -> dict[str, Path]:
    """A data root and a cache (both in the environment), a user's package, an unrelated folder, and folders
    marked by `distill` and `train-teacher`."""
    data = tmp_path / "data"
    (data / "classifiers").mkdir(parents=True)
    (data / "classifiers" / "resnet20.th").write_bytes(b"weights")
    (data / "PROVENANCE.md").write_text("where it came from")
    cache = tmp_path / "cache"
    (cache / "downloads").mkdir(parents=True)
    (cache / "downloads" / "x.bin").write_bytes(b"cached")
    monkeypatch.setenv("GSOC_DATA_ROOT", str(data))
    monkeypatch.setenv("GSOC_CACHE_DIR", str(cache))
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "net.py").write_text("def make():\n    raise SystemExit('user code')\n")
    other = tmp_path / "photos"
    other.mkdir()
    (other / "a.txt").write_text("mine")
    folders = {"data root": data, "cache": cache, "package": pkg, "unrelated": other}
    for command in ("distill", "train-teacher"):
        marked = tmp_path / f"run-{command}"
        marked.mkdir()
        (marked / "checkpoint.pt").write_bytes(b"theirs")
        mark_output(marked, command, ["checkpoint.pt"])
        folders[command] = marked
    return folders


def test_quantize_overwrite_replaces_only_its_own_output(onnx, tmp_path, monkeypatch, capsys):
    for what, folder in _folders(tmp_path, monkeypatch).items():
        message = "is an output of `gsoc-helpers" if what in ("distill", "train-teacher") else "has no"
        for model in (onnx, "mypkg.net:make"):  # a factory in the user's package is not imported before refusing
            argv = ["quantize", model, "--calibration", "noise", "--out", str(folder), "--overwrite", *QUANTIZE_FAST]
            assert_refused(argv, capsys, message, untouched=[tmp_path])
    out = tmp_path / "out"
    argv = ["quantize", onnx, "--calibration", "noise", "--out", str(out), *QUANTIZE_FAST]
    assert main(argv) == 0 and output_owner(out) == "quantize"
    first = (out / "report.json").stat().st_mtime_ns
    assert main([*argv, "--overwrite"]) == 0 and output_owner(out) == "quantize"  # its own output: replaced
    assert (out / "report.json").stat().st_mtime_ns >= first
    assert not list(tmp_path.glob(".out.*")), list(tmp_path.iterdir())  # no lock or temporary left beside it


def test_run_folders_overwrite_only_their_own(tmp_path, monkeypatch, capsys):
    folders = _folders(tmp_path, monkeypatch)
    images = tmp_path / "imgs"
    write_image_folder(images, per_class=1)
    syn = write_tiny_synthetic(tmp_path / "syn")
    for what, folder in folders.items():
        teacher = tiny_train_teacher(folder, images, "--overwrite")
        fragment = "is an output of `gsoc-helpers distill`" if what == "distill" else "not an earlier"
        if what != "train-teacher":
            assert_refused(teacher, capsys, fragment, untouched=[tmp_path])
        if what != "distill":
            distill = ["distill", str(syn), "--out", str(folder), "--overwrite", "--device", "cpu", *TINY_DISTILL]
            distill.append(str(images))
            assert_refused(distill, capsys, "not an earlier `gsoc-helpers distill`", untouched=[tmp_path])
            # --resume continues only a folder marked by the same command
            if what == "train-teacher":
                resume = [a for a in distill if a != "--overwrite"] + ["--resume"]
                assert_refused(resume, capsys, "train-teacher", untouched=[tmp_path])


TINY_DISTILL = ["--max-steps", "1", "--batch-size", "8", "--ngf", "16", "--ndf", "8", "--no-progress", "--real-source"]


def _hold_lock(out: Path, command: str) -> subprocess.Popen:
    """A second process holding ``out``'s run lock until its stdin closes (as a running command does)."""
    code = textwrap.dedent(
        f"""
        import sys
        from gsoc_helpers.safety import output_lock
        with output_lock({str(out)!r}, {command!r}):
            print("held", flush=True)
            sys.stdin.read()
        """
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_run_into_a_locked_folder_is_refused(onnx, tmp_path, capsys):
    syn = write_tiny_synthetic(tmp_path / "syn")
    images = tmp_path / "imgs"
    write_image_folder(images, per_class=1)
    cases = {
        "quantize": ["quantize", onnx, "--calibration", "noise", "--out", str(tmp_path / "q"), *QUANTIZE_FAST],
        "distill": ["distill", str(syn), "--out", str(tmp_path / "d"), "--device", "cpu", *TINY_DISTILL, str(images)],
        "train-teacher": tiny_train_teacher(tmp_path / "t", images),
    }
    for command, argv in cases.items():
        out = Path(argv[argv.index("--out") + 1])
        holder = _hold_lock(out, command)
        try:
            fragment = f"another `gsoc-helpers {command}` run is writing"
            assert_refused(argv, capsys, fragment, untouched=[out], progress=command == "quantize")
        finally:
            holder.communicate("")
        assert not out.exists() or not any(p.name != OUTPUT_MARK for p in out.iterdir())
    assert main(cases["quantize"]) == 0  # the lock is gone with its holder


def test_other_commands_mark_only_folders_they_made(tmp_path, capsys):
    from official_fixtures import write_fakecifar10

    write_fakecifar10(tmp_path / "fc", per_class=(1,) * 10)
    assert main(["import-fakecifar10", str(tmp_path / "fc"), "--out", str(tmp_path / "new")]) == 0
    assert output_owner(tmp_path / "new") == "import-fakecifar10"
    capsys.readouterr()
    user = tmp_path / "user"
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    before = (user / "notes.txt").read_bytes()
    assert_refused(["import-fakecifar10", str(tmp_path / "fc"), "--out", str(user)], capsys, "has no", [user])
    assert output_owner(user) is None and (user / "notes.txt").read_bytes() == before  # a user's folder: refused
