"""`gsoc-helpers quantize` / quantize_model: every MODEL kind, every bad input, the report against a direct
OpenVINO computation on the same machine (no fixed quantized numbers: they differ between CPUs)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import openvino as ov
import pytest
import torch
from cli_checks import assert_refused
from torch import nn

from gsoc_helpers.cli import main
from gsoc_helpers.models.contract import InputContract
from gsoc_helpers.openvino.core import compile_model
from gsoc_helpers.quantization import evaluate as ev
from gsoc_helpers.quantization import tool
from gsoc_helpers.quantization.tool import QuantizeOptions, quantize_model
from gsoc_helpers.safety import mark_output

from conftest import write_image_folder

FAST = dict(calibration_size=20, held_out_size=20, speed_batches=(2,), speed_seconds=0.05, threads=1)
FAST_CLI = [
    "--calibration-size",
    "20",
    "--held-out-size",
    "20",
    "--speed-batches",
    "2",
    "--speed-seconds",
    "0.05",
    "--threads",
    "1",
]
FACTORY_SRC = """
import torch
from torch import nn

class Tiny(nn.Module):
    def __init__(self, channels=3):
        super().__init__()
        self.f = nn.Sequential(nn.Conv2d(channels, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.ReLU(),
                               nn.Conv2d(16, 32, 3, 2, 1), nn.BatchNorm2d(32), nn.ReLU())
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        return self.fc(self.f(x).mean((2, 3))) * 10

def make():
    return Tiny()

def not_a_module():
    return 3

def broken():
    raise RuntimeError("no GPU here")
"""


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> dict:
    """A factory module on disk, its seeded weights (safetensors and torch state dict), the model as ONNX and IR,
    a labelled held-out folder (4 images per CIFAR-10 class), a flat folder of 12 unlabelled images."""
    import importlib
    import sys

    from safetensors.torch import save_file

    from gsoc_helpers.openvino.classifier import to_openvino
    from gsoc_helpers.quantization.ptq import save_ir

    root = tmp_path_factory.mktemp("qtool")
    (root / "pkg").mkdir()
    (root / "pkg" / "qtool_factory.py").write_text(FACTORY_SRC)
    sys.path.insert(0, str(root / "pkg"))
    try:
        mod = importlib.import_module("qtool_factory")
    finally:
        sys.path.remove(str(root / "pkg"))
    torch.manual_seed(0)
    net = mod.make().eval()
    for m in net.modules():  # non-trivial BN statistics, so the weights matter
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    save_file(state, str(root / "w.safetensors"))
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "best_prec1": 1.0}, root / "w.pt")
    torch.onnx.export(net, (torch.zeros(1, 3, 32, 32),), str(root / "tiny.onnx"), dynamo=False)
    save_ir(to_openvino(net), root / "tiny.xml")
    write_image_folder(root / "held", per_class=4)
    flat = root / "flat"
    write_image_folder(root / "flat_tree", per_class=2)
    flat.mkdir()
    for i, f in enumerate(sorted((root / "flat_tree").rglob("*.png"))[:12]):
        f.rename(flat / f"img{i:02d}.png")
    return {"root": root, "pkg": root / "pkg", "net": net, "module": mod}


def _prep_numpy(x01: np.ndarray, mean, std, lo=0.0, hi=1.0) -> np.ndarray:
    """The stated preprocessing written independently: x01 float [N,3,H,W] in [0,1]."""
    m = np.asarray(mean, np.float32).reshape(1, -1, 1, 1)
    s = np.asarray(std, np.float32).reshape(1, -1, 1, 1)
    return ((x01 * (hi - lo) + lo - m) / s).astype(np.float32)


def _read_folder(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    from gsoc_helpers.data import CIFAR10_CLASSES

    files = sorted(folder.rglob("*.png"))
    x = np.stack([np.asarray(Image.open(f).convert("RGB"), np.float32) / 255.0 for f in files]).transpose(0, 3, 1, 2)
    y = np.array([CIFAR10_CLASSES.index(f.parent.name) for f in files])
    return np.ascontiguousarray(x), y


def _direct(out: Path, x: np.ndarray, labels: np.ndarray | None) -> dict:
    """Agreement, KL(FP32 || INT8), top-1, straight from the saved IRs with OpenVINO (f32 precision hint)."""
    core = ov.Core()
    z = []
    for name in ("model_fp32.xml", "model_int8.xml"):
        c = core.compile_model(core.read_model(str(out / name)), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        z.append(c(x)[c.outputs[0]].astype(np.float64))
    lp, lq = (zz - zz.max(1, keepdims=True) for zz in z)
    lp, lq = lp - np.log(np.exp(lp).sum(1, keepdims=True)), lq - np.log(np.exp(lq).sum(1, keepdims=True))
    res = {"agreement": 100 * np.mean(z[0].argmax(1) == z[1].argmax(1)), "kl": (np.exp(lp) * (lp - lq)).sum(1).mean()}
    if labels is not None:
        res["top1_fp32"], res["top1_int8"] = (100 * np.mean(zz.argmax(1) == labels) for zz in z)
    return res


def _check_against_direct(report: dict, direct: dict) -> None:
    e = report["evaluation"]
    assert e["agreement"] == pytest.approx(direct["agreement"], abs=1e-9)
    assert e["kl"] == pytest.approx(direct["kl"], rel=1e-3, abs=1e-9) and e["kl"] > 0
    for k in ("top1_fp32", "top1_int8"):
        if k in direct:
            assert e[k] == pytest.approx(direct[k], abs=1e-9)


def test_onnx_model_report_matches_direct_openvino(work, tmp_path, monkeypatch):
    from gsoc_helpers.calibration import get_calibration

    seen = {}
    real_quantize = tool.quantize

    def spy(ov_model, calibration, config):
        seen["cal"] = calibration.clone()
        return real_quantize(ov_model, calibration, config)

    monkeypatch.setattr(tool, "quantize", spy)
    prep = InputContract(mean=(125.0, 122.0, 113.0), std=(63.0, 62.0, 66.0), value_range=(0.0, 255.0))
    out = tmp_path / "out"
    res = quantize_model(
        str(work["root"] / "tiny.onnx"),
        "noise",
        out,
        preprocessing=prep,
        held_out=work["root"] / "held",
        options=QuantizeOptions(**FAST),
        progress=False,
    )
    # calibration images went through exactly the stated preprocessing
    want = _prep_numpy(get_calibration("noise", 20, 0).images.numpy(), prep.mean, prep.std, 0, 255)
    np.testing.assert_allclose(seen["cal"].numpy(), want, atol=1e-4)
    assert sorted(p.name for p in out.iterdir()) == [
        ".gsoc-helpers.json",  # the mark: an earlier `quantize` output, which --overwrite may replace
        "model_fp32.bin",
        "model_fp32.xml",
        "model_int8.bin",
        "model_int8.xml",
        "report.json",
        "report.md",
    ]
    report = json.loads((out / "report.json").read_text())
    assert report == json.loads(json.dumps(res.report))
    x, y = _read_folder(work["root"] / "held")
    _check_against_direct(report, _direct(out, _prep_numpy(x, prep.mean, prep.std, 0, 255), y))
    e = report["evaluation"]
    assert e["set"] == "held-out folder" and e["images"] == 40 and e["drop"] == e["top1_fp32"] - e["top1_int8"]
    assert report["calibration"]["images"] == 20 and report["model"]["kind"] == "onnx"
    # FP32 IR = the model
    with torch.no_grad():
        ref = work["net"](torch.from_numpy(_prep_numpy(x, prep.mean, prep.std, 0, 255))).numpy()
    fp32 = ov.Core().read_model(str(out / "model_fp32.xml"))
    assert (
        np.abs(
            ev.logits(compile_model(fp32, 1), torch.from_numpy(_prep_numpy(x, prep.mean, prep.std, 0, 255))) - ref
        ).max()
        < 1e-3
    )
    size = {
        n: (out / f"{n}.xml").stat().st_size + (out / f"{n}.bin").stat().st_size for n in ("model_fp32", "model_int8")
    }
    assert report["size"]["fp32_bytes"] == size["model_fp32"] and report["size"]["int8_bytes"] == size["model_int8"]
    int8 = ov.Core().read_model(str(out / "model_int8.xml"))
    assert report["fp32_layers"]["names"] == ev.fp32_layers(int8) and report["fp32_layers"]["total"] == 3
    assert all(v["fp32"] > 0 and v["default"] > 0 and v["int8"] > 0 for v in report["speed"]["batches"].values())
    md = (out / "report.md").read_text()
    assert "held-out folder" in md and f"{e['agreement']:.2f} %" in md and "top-1 drop" in md
    env = report["environment"]  # INT8 against f32 and the CPU's default precision, the ISA named
    assert "INT8 / default" in md and f"On this {env['isa']} CPU" in md and env["default_precision"] in md
    assert not list(tmp_path.glob(".out.*"))


def test_ir_model_on_held_out_synthetic_images(work, tmp_path):
    from gsoc_helpers.calibration import get_calibration
    from gsoc_helpers.quantization.user_images import HELD_OUT_SEED_OFFSET

    out = tmp_path / "ir"
    res = quantize_model(
        str(work["root"] / "tiny.xml"),
        "student",
        out,
        preprocessing=InputContract(),
        options=QuantizeOptions(**FAST),
        progress=False,
    )
    e = res.report["evaluation"]
    assert e["set"] == "held-out synthetic images" and e["images"] == 20 and e["drop"] is None
    x = get_calibration("student", 20, 0 + HELD_OUT_SEED_OFFSET).images.numpy()
    p = InputContract()
    _check_against_direct(res.report, _direct(out, _prep_numpy(x, p.mean, p.std), None))
    md = (out / "report.md").read_text()
    assert "held-out synthetic images" in md and "not measured (no labels)" in md


def test_factory_with_safetensors_via_cli_and_bn_matching(work, tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(work["pkg"]))
    out = tmp_path / "f"
    assert (
        main(
            [
                "quantize",
                "qtool_factory:make",
                "--weights",
                str(work["root"] / "w.safetensors"),
                "--calibration",
                "bn-matching",
                "--source-option",
                "steps=2",
                "--source-option",
                "progress=0",
                "--calibration-size",
                "10",
                "--held-out",
                str(work["root"] / "held"),
                "--out",
                str(out),
                *FAST_CLI[2:],
            ]
        )
        == 0
    )
    assert "agreement" in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert report["model"]["kind"] == "pytorch" and "bn-matching" in report["calibration"]["description"]
    x, y = _read_folder(work["root"] / "held")
    p = InputContract()
    xp = _prep_numpy(x, p.mean, p.std)
    _check_against_direct(report, _direct(out, xp, y))
    with torch.no_grad():
        ref = work["net"](torch.from_numpy(xp)).numpy()
    fp32 = compile_model(ov.Core().read_model(str(out / "model_fp32.xml")), 1)
    assert np.abs(ev.logits(fp32, torch.from_numpy(xp)) - ref).max() < 1e-3  # the weights were loaded


def test_factory_with_torch_state_dict_user_calibration_folder_and_resize(work, tmp_path, monkeypatch):
    """A 48x48 model: calibration and held-out images (32x32 files) are resized to 48 (bilinear, antialiased)."""
    import torch.nn.functional as F

    monkeypatch.syspath_prepend(str(work["pkg"]))
    p = InputContract(image_size=48)
    res = quantize_model(
        "qtool_factory:make",
        str(work["root"] / "flat"),
        tmp_path / "g",
        weights=work["root"] / "w.pt",
        held_out=work["root"] / "held",
        preprocessing=p,
        options=QuantizeOptions(**FAST),
        progress=False,
    )
    r = res.report
    assert r["calibration"]["images"] == 12 and "flat" in r["calibration"]["description"]
    assert r["model"]["input"] == [-1, 3, 48, 48]
    x, y = _read_folder(work["root"] / "held")
    x48 = F.interpolate(
        torch.from_numpy(x), size=(48, 48), mode="bilinear", align_corners=False, antialias=True
    ).numpy()
    xp = _prep_numpy(x48, p.mean, p.std)
    _check_against_direct(r, _direct(res.out, xp, y))
    with torch.no_grad():
        ref = work["net"](torch.from_numpy(xp)).numpy()
    fp32 = compile_model(ov.Core().read_model(str(res.fp32_xml)), 1)
    assert np.abs(ev.logits(fp32, torch.from_numpy(xp)) - ref).max() < 1e-3  # the weights were loaded


def test_folder_labels_by_class_index_and_any_image_size(tmp_path):
    from PIL import Image

    from gsoc_helpers.quantization.user_images import load_folder

    rng = np.random.default_rng(0)
    for c in ("0", "3"):
        (tmp_path / "idx" / c).mkdir(parents=True)
        for j, hw in enumerate(((40, 40), (20, 30))):
            Image.fromarray(rng.integers(0, 256, (*hw, 3), dtype=np.uint8)).save(tmp_path / "idx" / c / f"{j}.jpg")
    got = load_folder(tmp_path / "idx", 32)
    assert got.images.shape == (4, 3, 32, 32) and got.labels.tolist() == [0, 0, 3, 3]
    assert 0 <= float(got.images.min()) and float(got.images.max()) <= 1
    (tmp_path / "idx" / "loose.png").write_bytes((tmp_path / "idx" / "0" / "0.jpg").read_bytes())
    assert load_folder(tmp_path / "idx", 32).labels is None  # an image outside a class folder: unlabelled
    assert len(load_folder(tmp_path / "idx", 16, max_images=3).images) == 3


@pytest.mark.slow
def test_registered_classifier(shared_data_root, tmp_path):
    res = quantize_model(
        "akamaster_resnet20",
        "noise",
        tmp_path / "r",
        options=QuantizeOptions(**{**FAST, "calibration_size": 10, "held_out_size": 10}),
        progress=False,
    )
    r = res.report
    assert r["model"]["kind"] == "registered" and r["preprocessing"]["mean"] == [0.0]
    assert r["fp32_layers"]["total"] == 20 and 0 <= r["evaluation"]["agreement"] <= 100
    with pytest.raises(ValueError, match="normalisation inside"):
        quantize_model("akamaster_resnet20", "noise", tmp_path / "r2", preprocessing=InputContract())


def test_accuracy_aware_ptq_on_labelled_held_out_folder(work, tmp_path):
    res = quantize_model(
        str(work["root"] / "tiny.onnx"),
        "noise",
        tmp_path / "a",
        held_out=work["root"] / "held",
        options=QuantizeOptions(**FAST, max_drop=0.01),
        progress=False,
    )
    r = res.report
    assert r["ptq"]["accuracy_control"] == {"max_drop_points": 1.0, "validation_images": 20}
    assert r["evaluation"]["images"] == 20 and r["evaluation"]["drop"] is not None
    assert "Accuracy-aware PTQ" in (tmp_path / "a" / "report.md").read_text()


def _bad_onnx(root: Path) -> Path:
    class NHWC(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 4, 3)

        def forward(self, x):  # [N,H,W,3]
            return self.c(x.permute(0, 3, 1, 2)).mean((2, 3))

    path = root / "nhwc.onnx"
    torch.onnx.export(NHWC().eval(), (torch.zeros(1, 32, 32, 3),), str(path), dynamo=False)
    return path


def _bad_ir(root: Path) -> Path:
    from gsoc_helpers.quantization.ptq import save_ir

    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.LazyLinear(10)).eval()
    net(torch.zeros(1, 1, 32, 32))
    m = ov.convert_model(net, example_input=torch.zeros(1, 1, 32, 32))
    return save_ir(m, root / "gray.xml")


def _cases(work: dict, tmp: Path) -> dict[str, tuple[list[str], str]]:
    root = work["root"]
    (tmp / "model.pt").write_bytes(b"not a model")
    (tmp / "empty").mkdir()
    (tmp / "empty" / "notes.txt").write_text("no images here")
    from safetensors.torch import save_file

    bad = {k: v for k, v in work["net"].state_dict().items()}
    bad["fc.weight"] = torch.zeros(5, 32)
    save_file(bad, str(tmp / "bad.safetensors"))
    onnx, held = str(root / "tiny.onnx"), str(root / "held")
    w = ["--weights", str(root / "w.safetensors")]
    return {
        "unknown file kind": ([str(tmp / "model.pt"), "--calibration", "noise"], "unknown model file kind"),
        "missing model": ([str(tmp / "nope.onnx"), "--calibration", "noise"], "not found"),
        "onnx not NCHW": ([str(_bad_onnx(tmp)), "--calibration", "noise"], "input must be [N,3,H,W]"),
        "ir not 3 channels": ([str(_bad_ir(tmp)), "--calibration", "noise"], "input must be [N,3,H,W]"),
        "factory not importable": (["no_such_module_xyz:make", "--calibration", "noise", *w], "cannot import"),
        "factory missing": (["qtool_factory:nothing", "--calibration", "noise", *w], "no callable"),
        "factory not a module": (["qtool_factory:not_a_module", "--calibration", "noise", *w], "not a torch.nn.Module"),
        "factory raises": (["qtool_factory:broken", "--calibration", "noise", *w], "no GPU here"),
        "factory without weights": (["qtool_factory:make", "--calibration", "noise"], "needs a weights file"),
        "weights do not fit": (
            ["qtool_factory:make", "--calibration", "noise", "--weights", str(tmp / "bad.safetensors")],
            "do not fit",
        ),
        "weights not a state dict": (
            ["qtool_factory:make", "--calibration", "noise", "--weights", str(tmp / "model.pt")],
            "cannot read weights",
        ),
        "weights for onnx": ([onnx, "--calibration", "noise", *w], "weights apply only"),
        "calibration folder empty": ([onnx, "--calibration", str(tmp / "empty")], "holds no images"),
        "held-out folder empty": (
            [onnx, "--calibration", "noise", "--held-out", str(tmp / "empty")],
            "holds no images",
        ),
        "unknown source": ([onnx, "--calibration", "no-such-source"], "unknown calibration source"),
        "bn-matching on onnx": ([onnx, "--calibration", "bn-matching"], "needs a PyTorch model"),
        "std zero": ([onnx, "--calibration", "noise", "--std", "0"], "std must be > 0"),
        "mean outside range": ([onnx, "--calibration", "noise", "--mean", "125", "120", "110"], "outside the value"),
        "units mixed up": ([onnx, "--calibration", "noise", "--value-range", "0", "255"], "look like [0,1] units"),
        "range reversed": ([onnx, "--calibration", "noise", "--value-range", "1", "0"], "LO < HI"),
        "two means": ([onnx, "--calibration", "noise", "--mean", "0.5", "0.5"], "1 or 3 finite"),
        "image size tiny": ([onnx, "--calibration", "noise", "--image-size", "2"], "must be >= 8"),
        "image size vs model": ([onnx, "--calibration", "noise", "--image-size", "64"], "stated image size is 64"),
        "max drop without held-out": ([onnx, "--calibration", "noise", "--max-drop", "1"], "needs a labelled"),
        "max drop unlabelled": (
            [onnx, "--calibration", "noise", "--max-drop", "1", "--held-out", str(root / "flat")],
            "needs labelled",
        ),
        "held-out = calibration": ([onnx, "--calibration", held, "--held-out", held], "must not be the calibration"),
        "calibration size 0": ([onnx, "--calibration", "noise", "--calibration-size", "0"], "must be >= 1"),
        "max drop 0": ([onnx, "--calibration", "noise", "--max-drop", "0", "--held-out", held], "must be in (0"),
        "out is a file": ([onnx, "--calibration", "noise", "--out", str(root / "tiny.onnx")], "is a file"),
    }


def test_bad_inputs_one_line_exit_2_nothing_written(work, tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(work["pkg"]))
    cases = _cases(work, tmp_path)
    capsys.readouterr()  # conversion warnings while making the bad models
    for argv, message in cases.values():
        assert_refused(["quantize", "--out", str(tmp_path / "out"), *FAST_CLI, *argv], capsys, message, [tmp_path])


def test_existing_output_kept_on_error_and_refused_without_overwrite(work, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("mine")
    onnx = str(work["root"] / "tiny.onnx")
    assert_refused(
        ["quantize", onnx, "--calibration", "noise", "--out", str(out), *FAST_CLI], capsys, "not empty", [tmp_path]
    )

    def fail(*a, **k):
        raise ValueError("nncf failed")

    assert_refused(  # not an earlier quantize output: never replaced
        ["quantize", onnx, "--calibration", "noise", "--out", str(out), "--overwrite", *FAST_CLI],
        capsys,
        "not an earlier `gsoc-helpers quantize` output",
        [tmp_path],
    )
    mark_output(out, "quantize", ["report.json"])  # as an earlier run left it
    monkeypatch.setattr(tool, "quantize", fail)  # an error after the temporary folder exists
    for argv in (["--out", str(out), "--overwrite"], ["--out", str(tmp_path / "new")]):
        assert_refused(
            ["quantize", onnx, "--calibration", "noise", *argv, *FAST_CLI],
            capsys,
            "nncf failed",
            [tmp_path],
            progress=True,
        )
    assert (out / "old.txt").read_text() == "mine"


def test_function_refuses_bad_values_before_writing(work, tmp_path):
    onnx = str(work["root"] / "tiny.onnx")
    bad = [
        (dict(options=QuantizeOptions(calibration_size=0)), "calibration size"),
        (dict(options=QuantizeOptions(max_drop=0.0)), "max drop"),
        (dict(options=QuantizeOptions(speed_seconds=float("nan"))), "speed seconds"),
        (dict(preprocessing=InputContract(image_size=2)), "image size"),
        (dict(preprocessing=InputContract(std=(float("inf"),))), "finite"),
    ]
    for kwargs, message in bad:
        with pytest.raises(ValueError, match=message):
            quantize_model(onnx, "noise", tmp_path / "out", progress=False, **kwargs)
        assert not list(tmp_path.iterdir())


def test_ignored_op_types_stay_in_floating_point(work, tmp_path, capsys):
    out = tmp_path / "ignored"
    args = ["quantize", str(work["root"] / "tiny.xml"), "--calibration", "noise", "--out", str(out), *FAST_CLI]
    assert main([*args, "--ignore-types", "MatMul"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["ptq"]["name"] == "custom" and "ignored_types=['MatMul']" in report["ptq"]["key"]
    int8 = ov.Core().read_model(out / tool.INT8_FILE)
    matmuls = [op.get_friendly_name() for op in int8.get_ordered_ops() if op.get_type_name() == "MatMul"]
    assert matmuls and set(matmuls) <= set(report["fp32_layers"]["names"])  # the classifier head left in FP32
    assert not any(
        op.get_type_name() == "Convolution" and op.get_friendly_name() in report["fp32_layers"]["names"]
        for op in int8.get_ordered_ops()
    )
    out2 = tmp_path / "per-tensor"
    assert (
        main(
            [
                "quantize",
                str(work["root"] / "tiny.xml"),
                "--calibration",
                "noise",
                "--out",
                str(out2),
                *FAST_CLI,
                "--per-tensor-activations",
            ]
        )
        == 0
    )
    assert "activations_per_channel=False" in json.loads((out2 / "report.json").read_text())["ptq"]["key"]
    with pytest.raises(ValueError, match="ignored types must be OpenVINO op type names"):
        QuantizeOptions(ignored_types=("Group Convolution",)).validate()


def test_report_warns_of_per_channel_depthwise_inputs(tmp_path):
    from test_quantization import Depthwise

    from gsoc_helpers.openvino.classifier import to_openvino

    torch.manual_seed(0)
    xml = tmp_path / "depthwise.xml"
    ov.save_model(to_openvino(Depthwise().eval(), 32), xml)
    for name, extra in (("default", {}), ("per-tensor", {"per_tensor_activations": True})):
        res = quantize_model(
            str(xml),
            "noise",
            tmp_path / name,
            preprocessing=InputContract(),
            options=QuantizeOptions(**FAST, **extra),
            progress=False,
        )
        md = (tmp_path / name / "report.md").read_text()
        flagged = "1 depthwise convolutions take their input with one range per channel" in md
        assert flagged == (name == "default") and len(res.report["per_channel_depthwise_inputs"]) == int(flagged)
