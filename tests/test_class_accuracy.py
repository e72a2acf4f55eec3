"""Class accuracy (gsoc_helpers.metrics.class_accuracy) on "generators" whose answer is known: real exact CIFAR-10
test images of the requested class, and a generator that always draws one class; the expected values come from the
judge's own predictions on those same images, computed here."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from cli_checks import assert_refused

from gsoc_helpers.cli import main
from gsoc_helpers.data import CIFAR10_CLASSES
from gsoc_helpers.defaults import JUDGE_CLASSIFIER
from gsoc_helpers.metrics.class_accuracy import class_accuracy
from gsoc_helpers.pixels import uint8_to_float, uint8_to_unit

from conftest import write_tiny_synthetic

PER_CLASS = 10  # 100 images: seconds on one core


class RealImages:
    """A generator-protocol stand-in: for label c it returns the next exact test image of class c (file order, one
    cursor per class), or, with ``pool`` given, the next image of ``pool`` whatever the label."""

    z_dim, c_dim, img_resolution = 4, 10, 32

    def __init__(self, by_class: list[np.ndarray], pool: np.ndarray | None = None) -> None:
        self.by_class, self.pool = by_class, pool
        self.cursor = [0] * 11

    def __call__(self, z, labels, truncation_psi=1.0, noise_mode="const"):
        out = []
        for c in labels.tolist():
            src, k = (self.pool, 10) if self.pool is not None else (self.by_class[c], c)
            out.append(src[self.cursor[k] % len(src)])
            self.cursor[k] += 1
        return uint8_to_float(np.stack(out))


@pytest.fixture(scope="module")
def judged():
    """(first PER_CLASS exact test images of each class, the judge's predictions on them), class by class."""
    import os

    from gsoc_helpers import get_classifier, load_cifar10

    if not os.environ.get("GSOC_DATA_ROOT"):
        pytest.skip("no data root ($GSOC_DATA_ROOT) on this machine")
    test = load_cifar10("test", source="exact")
    by_class = [test.images[test.labels == c][:PER_CLASS] for c in range(10)]
    net = get_classifier(JUDGE_CLASSIFIER)
    with torch.no_grad():
        preds = [net(uint8_to_unit(imgs)).argmax(1).numpy() for imgs in by_class]
    return by_class, preds


def test_real_test_images_score_the_judges_own_accuracy(judged):
    by_class, preds = judged
    res = class_accuracy(RealImages(by_class), n=10 * PER_CLASS, batch_size=16)
    expected = {name: float((preds[c] == c).mean()) for c, name in enumerate(CIFAR10_CLASSES)}
    assert res.per_class == pytest.approx(expected, abs=1e-12)
    assert res.accuracy == pytest.approx(np.mean([(p == c).mean() for c, p in enumerate(preds)]), abs=1e-12)
    assert 0.8 <= res.accuracy <= 1.0  # ResNet-56 scores ~93 % on real test images
    assert res.counts == dict.fromkeys(CIFAR10_CLASSES, PER_CLASS)
    assert (res.n, res.classifier, res.truncation_psi) == (100, "akamaster_resnet56", 1.0)
    assert "akamaster_resnet56" in str(res) and "airplane" in str(res)
    # the same images given as (images, intended labels) score the same
    images, labels = np.concatenate(by_class), np.repeat(np.arange(10), PER_CLASS)
    assert class_accuracy(images, labels).per_class == res.per_class
    # intended labels shifted by one class: each image is judged against a class it does not show
    shifted = class_accuracy(images, (labels + 1) % 10)
    assert shifted.accuracy == pytest.approx(np.mean(np.concatenate(preds) == (labels + 1) % 10))


def test_a_generator_that_always_draws_one_class(judged):
    by_class, preds = judged
    k = CIFAR10_CLASSES.index("ship")
    pool = by_class[k][preds[k] == k]  # ship images the judge calls ship
    res = class_accuracy(RealImages(by_class, pool=pool), n=30, seed=3)
    assert res.per_class == {name: (1.0 if c == k else 0.0) for c, name in enumerate(CIFAR10_CLASSES)}
    assert res.accuracy == pytest.approx(res.counts["ship"] / 30)
    assert sum(res.counts.values()) == 30 and set(res.counts.values()) == {3}


def test_a_subset_of_an_image_set_is_seeded(judged):
    by_class, _ = judged
    images, labels = np.concatenate(by_class), np.repeat(np.arange(10), PER_CLASS)
    a, b = (class_accuracy(images, labels, n=37, seed=5) for _ in range(2))
    assert (str(a), a.counts, a.n) == (str(b), b.counts, 37)
    assert class_accuracy(images, labels, n=37, seed=6).counts != a.counts


def test_a_class_without_images_is_nan(judged):
    by_class, preds = judged
    res = class_accuracy(np.concatenate(by_class[:9]), np.repeat(np.arange(9), PER_CLASS))
    assert np.isnan(res.per_class["truck"]) and res.counts["truck"] == 0 and "truck -" in str(res)
    assert res.accuracy == pytest.approx(np.mean(np.concatenate(preds[:9]) == np.repeat(np.arange(9), PER_CLASS)))


class _Tiny:
    z_dim, c_dim, img_resolution = 4, 10, 32

    def __call__(self, z, labels, truncation_psi=1.0, noise_mode="const"):
        return torch.zeros(len(z), 3, 32, 32)


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        ((_Tiny(),), {"n": 0}, "n must be a positive integer"),
        ((_Tiny(),), {"batch_size": 0}, "batch size must be a positive integer"),
        ((_Tiny(), np.zeros(4, np.int64)), {}, "labels are drawn class-balanced"),
        ((_Tiny(),), {"truncation_psi": 5.0}, "truncation psi must be within"),
        ((_Tiny(),), {"classifier": "no_such_net", "n": 10}, "unknown classifier 'no_such_net'"),
        ((_Tiny(),), {"classifier": "efficientnet-lite0", "n": 10}, "takes 224x224 images of 1000 classes"),
        ((np.zeros((4, 32, 32, 3), np.uint8),), {}, "need their intended labels"),
        ((np.zeros((4, 32, 32, 3), np.float32), np.zeros(4, np.int64)), {}, "expected uint8 images"),
        ((np.zeros((4, 32, 32, 3), np.uint8), np.zeros(3, np.int64)), {}, "expected 4 integer labels"),
        ((np.zeros((4, 32, 32, 3), np.uint8), np.full(4, 10)), {}, r"labels must lie in \[0, 10\)"),
        ((np.zeros((4, 32, 32, 3), np.uint8), np.zeros(4, np.int64)), {"n": 5}, "n=5 images requested"),
    ],
)
def test_bad_input_is_one_line(args, kwargs, message):
    with pytest.raises(ValueError, match=message) as err:
        class_accuracy(*args, **kwargs)
    assert "\n" not in str(err.value)


def test_an_unconditional_generator_is_refused():
    class Unconditional(_Tiny):
        c_dim = 0

    with pytest.raises(ValueError, match="needs a class-conditional generator"):
        class_accuracy(Unconditional())


def test_generator_output_of_the_wrong_size_is_refused():
    class Wrong(_Tiny):
        def __call__(self, z, labels, truncation_psi=1.0, noise_mode="const"):
            return torch.zeros(len(z), 3, 16, 16)

    with pytest.raises(ValueError, match="16x16 of 10 classes") as err:
        class_accuracy(Wrong(), n=10)
    assert "\n" not in str(err.value)


def test_fid_command_reports_class_accuracy_with_its_judge(tmp_path, capsys, judged):
    out = tmp_path / "acc.json"
    assert main(["fid", "student", "--metrics", "class-acc", "--n", "20", "--threads", "1", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "class accuracy" in printed and "judge akamaster_resnet56" in printed and "truck" in printed
    saved = json.loads(out.read_text())["class_accuracy"]
    assert saved["n"] == 20 and saved["classifier"] == "akamaster_resnet56" and len(saved["per_class"]) == 10
    assert saved["candidate"] == "generator:StudentGenerator(student.safetensors)"


def test_fid_command_class_accuracy_of_a_synthetic_folder(tmp_path, capsys, judged):
    write_tiny_synthetic(tmp_path / "syn", per_class=2)
    assert main(["fid", str(tmp_path / "syn"), "--metrics", "class-acc", "--classifier", "akamaster_resnet20"]) == 0
    assert "20 images of synthetic:fake" in capsys.readouterr().out


@pytest.mark.parametrize("metrics", ["fid,bogus", "fid,", "class_acc"])
def test_fid_command_refuses_unknown_metrics(capsys, metrics):
    assert_refused(["fid", "student", "--metrics", metrics], capsys, "unknown metric")


def test_fid_command_refuses_an_unknown_judge(capsys):
    assert_refused(["fid", "student", "--metrics", "class-acc", "--classifier", "resnet9000"], capsys, "resnet9000")


def test_fid_command_never_replaces_a_json_file(tmp_path, capsys):
    (tmp_path / "notes.json").write_text("mine")
    assert_refused(
        ["fid", "student", "--metrics", "class-acc", "--n", "10", "--json", str(tmp_path / "notes.json")],
        capsys,
        "exists",
        untouched=[tmp_path],
    )


def test_fid_command_refuses_a_judge_that_does_not_fit_before_computing_fid(capsys, monkeypatch):
    import gsoc_helpers.metrics.fidelity as fidelity

    def never(*args, **kwargs):
        raise AssertionError("FID computed before the judge was checked")

    monkeypatch.setattr(fidelity, "compute_fidelity", never)
    argv = ["fid", "student", "--metrics", "fid,class-acc", "--classifier", "efficientnet-lite0", "--n", "10"]
    assert_refused(argv, capsys, "224x224 images of 1000 classes")


def test_compare_generators_has_class_accuracy_columns(monkeypatch, judged):
    from gsoc_helpers import compare_generators, load_generator
    from gsoc_helpers.metrics import report

    monkeypatch.setattr(report, "quality", lambda name, *a, **k: {"model": name, "FID": 1.0})  # no Inception here
    student = load_generator("student")
    table = compare_generators(
        {"student": student}, fid_n=20, reference_n=20, reference_source="exact", batches=(2,), openvino=False,
        min_seconds=0.01,
    )  # fmt: skip
    alone = class_accuracy(student, n=20)
    assert table.loc["student", "class acc %"] == round(100 * alone.accuracy, 1)
    assert table.loc["student", "class acc judge"] == "akamaster_resnet56 (FP32), 20 images"
    assert table.attrs["class_accuracy"]["student"] == alone.per_class_percent()
    off = compare_generators({"student": student}, fid_n=20, reference_n=20, reference_source="exact",
                             batches=(2,), openvino=False, min_seconds=0.01, classifier=None)  # fmt: skip
    assert "class acc %" not in off.columns and "class_accuracy" not in off.attrs


def test_bench_quality_writes_one_row_per_generator(tmp_path, monkeypatch, judged):
    """benchmarks/bench_quality.py with FID/KID stubbed (the Inception runs in test_fidelity.py): the class accuracy
    of its row is class_accuracy's, the protocol names the judge, and the floor row judges real images."""
    import importlib.util
    from pathlib import Path

    from gsoc_helpers import load_generator
    from gsoc_helpers.metrics.fidelity import FidelityResult

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_quality.py"
    spec = importlib.util.spec_from_file_location("bench_quality", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    seen = []

    def fake_fidelity(candidate, **kw):
        seen.append(kw)
        proto = {"n_candidate": 10, "reference": "ref", "reference_n": 7, "feature_extractor": "fe"}
        return FidelityResult({"fid": 12.345, "kid": 0.00123}, proto, 0.0)

    monkeypatch.setattr(mod, "compute_fidelity", fake_fidelity)
    out = tmp_path / "q"
    assert mod.main(["student", "--n", "10", "--floor", "--out", str(out)]) == 0
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert [r["generator"] for r in rows] == ["student", "real exact test images"]
    assert rows[0]["class acc %"] == round(100 * class_accuracy(load_generator("student"), n=10).accuracy, 1)
    from gsoc_helpers.metrics.complexity import count_parameters

    params = count_parameters(load_generator("student"))
    assert (rows[0]["FID"], rows[0]["KID x1e3"], rows[0]["parameters"]) == (12.3, 1.23, params)
    assert "judge akamaster_resnet56 (FP32), 10 images" in rows[0]["protocol"]
    assert rows[1]["class acc %"] >= 50  # real images carry their class
    assert seen[0]["reference_split"] == "test" and seen[0]["reference_source"] == "exact"
    assert seen[0]["n_generated"] == 10 and seen[0]["truncation_psi"] == 1.0
    assert seen[1]["reference_split"] == "train" and seen[1]["reference_n"] == 1017
    assert "| student |" in out.with_suffix(".md").read_text()


def test_bench_training_curve_orders_snapshots_by_step(tmp_path, monkeypatch):
    """benchmarks/bench_training_curve.py: rows sorted by the step in each file name, each row class_accuracy's.
    The judge is a random-init ResNet-56 in akamaster's official format and place in a data root (no network)."""
    import importlib.util
    from pathlib import Path

    from official_fixtures import write_akamaster_weights, write_checksums

    folder = tmp_path / "root" / "classifiers" / "akamaster_pytorch_resnet_cifar10"
    folder.mkdir(parents=True)
    write_akamaster_weights(folder, JUDGE_CLASSIFIER.removeprefix("akamaster_"))
    monkeypatch.setenv("GSOC_DATA_ROOT", str(tmp_path / "root"))
    monkeypatch.setenv("GSOC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GSOC_DOWNLOAD_CHECKSUMS", str(write_checksums(folder, tmp_path / "checksums.json")))

    from gsoc_helpers import load_generator
    from gsoc_helpers.models.offline_teacher import OfflineTeacher, OfflineTeacherConfig
    from gsoc_helpers.models.registry import save_generator

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_training_curve.py"
    spec = importlib.util.spec_from_file_location("bench_training_curve", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    files = []
    for step, seed in ((1200, 1), (300, 2)):
        torch.manual_seed(seed)
        files.append(
            str(save_generator(OfflineTeacher(OfflineTeacherConfig(ngf=8)), tmp_path / f"step_{step:07d}.safetensors"))
        )
    out = tmp_path / "curve"
    assert mod.main([*files, "--n", "20", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.with_suffix(".jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [300, 1200]
    expected = class_accuracy(load_generator(files[1]), n=20)
    assert rows[0]["class_acc"] == round(100 * expected.accuracy, 1)
    assert len(rows[0]["per_class"]) == 10 and out.with_suffix(".png").stat().st_size > 0
    with pytest.raises(ValueError, match="no step in the file name"):
        mod.snapshot_step("final.safetensors")
    joined = tmp_path / "joined.jsonl"  # a run measured in parts: a header line naming the machine, then the rows
    joined.write_text(
        json.dumps({"run": "x", "machine": "the measuring CPU"}) + "\n" + out.with_suffix(".jsonl").read_text()
    )
    out.with_suffix(".png").unlink()
    assert mod.main(["--replot", str(joined)]) == 0 and joined.with_suffix(".png").stat().st_size > 0
    assert not out.with_suffix(".png").exists()


def test_generator_quality_tables_match_their_results_file():
    """The model cards' and RESULTS.md's quality tables are the ones make_tables.py writes from bundle_quality.json."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "generator_results" / "make_tables.py"
    spec = importlib.util.spec_from_file_location("make_tables", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    made = mod.blocks()
    for target in mod.targets():
        text = target.read_text()
        assert mod.fill(text, made) == text, f"{target.name}: run benchmarks/generator_results/make_tables.py"
        assert any(f"<!-- quality:{name} -->" in text for name in made), target.name


def test_generator_targets_table_reads_met_and_missed_from_the_rows():
    """make_tables.targets_table: each of issue 37's targets met or missed by the bundle rows' figures."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "generator_results" / "make_tables.py"
    spec = importlib.util.spec_from_file_location("make_tables", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    per = {c + " %": 40.0 for c in mod.CLASSES}
    teacher = {"generator": "offline teacher, this bundle (x)", "FID": 80.0, "class acc %": 70.0, **per}
    student = {"generator": "student, this bundle (y)", "FID": 95.0, "class acc %": 56.0, **per, "dog %": 10.0}
    lines = mod.targets_table([teacher, student]).splitlines()[2:]
    assert [line.rsplit("|", 2)[1].strip() for line in lines] == ["met", "met", "met", "met", "**missed**"]
    assert "≤ teacher + 10 = 90.0" in lines[-1]
