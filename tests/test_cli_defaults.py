"""The CLI takes its defaults from the config objects (one source of truth per default)."""

from __future__ import annotations

from gsoc_helpers.cli import build_parser
from gsoc_helpers.cli.quantize_study import _nncf_or
from gsoc_helpers.quantization.ptq import PTQConfig


def test_quantize_study_defaults_are_ptq_config_defaults():
    args = build_parser().parse_args(["quantize-study"])
    from_cli = PTQConfig(
        preset=_nncf_or(args.preset),
        bias_correction=args.bias_correction,
        activation_range=_nncf_or(args.activation_range),
        overflow_fix=_nncf_or(args.overflow_fix),
    )
    assert from_cli == PTQConfig()
    assert args.sizes is None and args.seeds is None  # unset: Grid's own defaults apply


def test_export_defaults_are_export_int8_generator_defaults():
    args = build_parser().parse_args(["export", "student"])
    assert args.calibration_size is None and args.seed is None  # unset: export_int8_generator's own defaults apply
