"""The notebooks show the library calls they teach, in code cells, before the package repeats them at scale.

Code cells are parsed with ``ast`` (IPython magics dropped); a call counts when its function resolves, through the
cell's own imports, to the library function (``import openvino as ov`` ... ``ov.convert_model(...)``)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import gsoc_helpers

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def code_cells(name: str) -> list[ast.Module]:
    cells = json.loads((NOTEBOOKS / name).read_text())["cells"]
    out = []
    for c in cells:
        if c["cell_type"] == "code":
            src = "".join(c["source"])
            lines = [  # an IPython magic becomes `pass` at its indentation
                ln[: len(ln) - len(ln.lstrip())] + "pass" if ln.lstrip().startswith(("%", "!")) else ln
                for ln in src.splitlines()
            ]
            out.append(ast.parse("\n".join(lines)))
    return out


def calls(name: str) -> list[tuple[int, str, ast.Call]]:
    """(cell index, dotted name with import aliases resolved, call node) of every call in the notebook's code cells;
    aliases are collected over the whole notebook, as a kernel running the cells in order sees them."""
    cells = code_cells(name)
    alias: dict[str, str] = {}
    for tree in cells:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    alias[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module:
                for a in node.names:
                    alias[a.asname or a.name] = f"{node.module}.{a.name}"
    out = []
    for i, tree in enumerate(cells):
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                parts = []
                f = node.func
                while isinstance(f, ast.Attribute):
                    parts.append(f.attr)
                    f = f.value
                if isinstance(f, ast.Name):
                    parts.append(alias.get(f.id, f.id))
                    out.append((i, ".".join(reversed(parts)), node))
    return out


def first(found: list[tuple[int, str, ast.Call]], dotted: str) -> int:
    cells = [i for i, name, _ in found if name == dotted]
    assert cells, f"no call of {dotted} in a code cell"
    return min(cells)


@pytest.mark.parametrize(
    "notebook, library_calls, package_call",
    [
        ("05_quantization_experiments.ipynb", ["openvino.convert_model", "nncf.Dataset", "nncf.quantize",
                                               "openvino.save_model", "openvino.Core"], "gsoc_helpers.run_study"),
        ("03_evaluation.ipynb", ["torch_fidelity.calculate_metrics"], "gsoc_helpers.compare_generators"),
        ("03_evaluation.ipynb", ["gsoc_helpers.get_classifier", "gsoc_helpers.nvidia_uint8"],
         "gsoc_helpers.class_accuracy"),
        ("02_student_distillation.ipynb", ["gsoc_helpers.generator_loss", "gsoc_helpers.discriminator_loss"],
         "gsoc_helpers.run_distill"),
        ("06_your_model_no_data.ipynb", ["gsoc_helpers.get_calibration", "openvino.convert_model", "nncf.Dataset",
                                         "nncf.quantize", "openvino.Core"], "gsoc_helpers.run_study"),
    ],
)  # fmt: skip
def test_library_calls_come_before_the_package_function(notebook, library_calls, package_call):
    found = calls(notebook)
    at_scale = first(found, package_call)
    for dotted in library_calls:
        assert first(found, dotted) < at_scale, f"{notebook}: {dotted} should come before {package_call}"


def test_notebook_05_compiles_both_models_and_spells_out_the_settings():
    notebook = "05_quantization_experiments.ipynb"
    found = calls(notebook)
    compiled = [n for _, name, n in found if name.endswith(".compile_model") and isinstance(n.func, ast.Attribute)]
    assert len(compiled) >= 2  # FP32 and INT8, through an ov.Core
    int8_cell, lowbit_cell = sorted({i for i, name, _ in found if name == "nncf.quantize"})
    src = ast.unparse(code_cells(notebook)[int8_cell])
    # the project's PTQConfig() as NNCF parameters, written out in the cell that calls nncf.quantize
    for setting in (
        "nncf.QuantizationPreset.MIXED",
        "subset_size=",
        "fast_bias_correction=False",
        "AdvancedQuantizationParameters(",
        "RangeEstimatorParametersSet.MINMAX",
        "disable_bias_correction=True",
        "nncf_kwargs(PTQConfig()",  # and checked against what the package passes
    ):
        assert setting in src, setting
    src = ast.unparse(code_cells(notebook)[lowbit_cell])
    for setting in (  # NNCF's own 4-bit call (the NPU hardware config allows it) and FP8, before the low-bit study
        "target_device=nncf.TargetDevice.NPU",
        "nncf.IgnoredScope(types=",
        "QuantizationParameters(num_bits=4, mode=QuantizationScheme.SYMMETRIC)",
        "weights_quantization_params=QuantizationParameters(num_bits=4)",
        "nncf_lowbit_kwargs(BitWidth(4, 4), PTQConfig()",
        "nncf.QuantizationMode.FP8_E4M3",
    ):
        assert setting in src, setting
    assert lowbit_cell < first(found, "gsoc_helpers.BitsSpec")


def test_notebook_03_plots_fid_and_class_accuracy_against_speed_on_a_named_cpu():
    notebook = "03_evaluation.ipynb"
    found = calls(notebook)
    (cell,) = {i for i, name, _ in found if name == "gsoc_helpers.cpu_description"}
    src = ast.unparse(code_cells(notebook)[cell])
    for needed in ("'FID'", "'class acc %'", "img/s", "set_xlabel", "set_ylabel", "suptitle"):
        assert needed in src, needed
    text = json.loads((NOTEBOOKS / notebook).read_text())["cells"]
    prose = " ".join("".join(c["source"]) for c in text if c["cell_type"] == "markdown")
    assert "different z sizes" not in prose and "z of 128" in prose


def test_notebook_01_calls_the_generator_with_truncation_and_converts_to_uint8():
    found = calls("01_teacher_sampling.ipynb")
    gen_calls = [(i, n) for i, _, n in found if any(k.arg == "truncation_psi" for k in n.keywords)]
    direct = [(i, n) for i, n in gen_calls if isinstance(n.func, ast.Name) and len(n.args) == 2]
    assert direct, "no G(z, labels, truncation_psi=...) call"
    cell = direct[0][0]
    assert cell < first(found, "gsoc_helpers.sample_dataset") and cell < first(found, "gsoc_helpers.generate_grid")
    src = ast.unparse(code_cells("01_teacher_sampling.ipynb")[cell])
    assert "127.5" in src and "torch.uint8" in src  # [-1, 1] -> uint8, spelled out


@pytest.mark.parametrize("notebook", sorted(p.name for p in NOTEBOOKS.glob("0*.ipynb")))
def test_notebooks_import_public_names_from_the_package(notebook):
    """A name of the curated API is imported as ``from gsoc_helpers import NAME``, not from its module."""
    for tree in code_cells(notebook):
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gsoc_helpers."):
                public = sorted(a.name for a in node.names if a.name in gsoc_helpers.PUBLIC_API)
                assert not public, f"{notebook}: import {public} from gsoc_helpers, not {node.module}"


def test_notebook_05_makes_each_calibration_set_once_for_the_int8_and_low_bit_studies():
    """bn-matching's images take the longest to make: the study of section 4 and the bit widths of section 11 name
    one calibration folder, so section 11 reads them back instead of optimising them again."""
    found = calls("05_quantization_experiments.ipynb")
    specs = [n for _, name, n in found if name in ("gsoc_helpers.Int8Spec", "gsoc_helpers.BitsSpec")]
    folders = [next((ast.unparse(k.value) for k in n.keywords if k.arg == "calibration_cache"), None) for n in specs]
    assert len(specs) == 2 and None not in folders and len(set(folders)) == 1
