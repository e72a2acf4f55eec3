"""One place that compiles OpenVINO models for the CPU and says what that CPU is.

* :func:`compile_model` -- f32 (default), OpenVINO's own default precision (``precision=None``: bf16 on CPUs with
  AVX512-BF16 or AMX, f32 elsewhere) or an explicit one; compiled blobs are cached under
  ``<cache dir>/openvino`` (OpenVINO's ``CACHE_DIR``: a second compilation of the same model reads the blob
  instead of compiling again; the blob holds kernels and weights, no Python code).
* :func:`cached_ir` / :func:`module_digest` -- converted PyTorch modules kept as IR, keyed by their weights and
  source, so that a second run skips the tracing.
* :func:`default_precision` -- what OpenVINO runs an "FP32" model in on this CPU when not told otherwise.
* :func:`cpu_isa` -- the CPU's widest relevant instruction set (``"AMX"``, ``"AVX-512 VNNI"``, ``"AVX-512"``,
  ``"AVX2 VNNI"``, ``"AVX2"`` or ``"baseline"``), named beside every speed figure.
* :func:`int8_verdict` -- one sentence on what INT8 buys on this kind of CPU, from measured ratios.
"""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path
from typing import Any

PRECISIONS = ("f32", "bf16", "f16")


def cache_dir(explicit: str | os.PathLike | None = None) -> Path:
    """``<gsoc cache dir>/openvino`` (created): OpenVINO's compiled-model cache."""
    from ..config import get_cache_dir

    path = get_cache_dir(explicit) / "openvino"
    path.mkdir(parents=True, exist_ok=True)
    return path


@functools.cache
def core() -> Any:
    """The process's one ``openvino.Core`` (creating one per compilation costs start-up time)."""
    import openvino as ov

    return ov.Core()


def compile_model(
    ov_model: Any,
    threads: int | None = None,
    precision: str | None = "f32",
    device: str = "CPU",
    cache: bool = True,
    **config: Any,
) -> Any:
    """Compile ``ov_model`` (an ``openvino.Model`` or an IR path) for ``device``.

    ``precision="f32"`` (default) keeps every non-INT8 op in f32; ``None`` lets OpenVINO choose (bf16 on CPUs with
    AVX512-BF16 or AMX, which would make an "FP32" reference a bf16 one); ``"bf16"``/``"f16"`` ask for that.
    ``threads``: ``INFERENCE_NUM_THREADS``. ``cache``: read/write compiled blobs under :func:`cache_dir`.
    ``config``: further OpenVINO properties.
    """
    if precision is not None and precision not in PRECISIONS:
        raise ValueError(f"precision must be None or one of {PRECISIONS}, got {precision!r}")
    cfg: dict = dict(config)
    on_cpu = device.upper().startswith("CPU")
    if threads and on_cpu:
        cfg["INFERENCE_NUM_THREADS"] = int(threads)
    if precision is not None and on_cpu:
        cfg["INFERENCE_PRECISION_HINT"] = precision
    if cache:
        cfg.setdefault("CACHE_DIR", str(cache_dir()))
    model = str(ov_model) if isinstance(ov_model, (str, os.PathLike)) else ov_model
    return core().compile_model(model, device, cfg)


def _source_digest(module: Any) -> str:
    """sha256 over the source files of the classes in ``module`` outside torch (a changed port -> a new key)."""
    import hashlib
    import inspect

    import torch

    torch_dir = str(Path(torch.__file__).parent)
    h = hashlib.sha256()
    for f in sorted({inspect.getsourcefile(type(m)) or "" for m in module.modules()} - {""}):
        if not f.startswith(torch_dir):
            h.update(Path(f).read_bytes())
    return h.hexdigest()


def module_digest(module: Any, *extra: Any) -> str:
    """Cache key of a PyTorch module's conversion: sha256 of its state dict as it is now (names, dtypes, shapes,
    values), the source of its classes, torch and OpenVINO versions and ``extra`` (input shapes, ...)."""
    import hashlib

    import openvino as ov
    import torch

    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    for part in (_source_digest(module), torch.__version__, ov.get_version(), *map(repr, extra)):
        h.update(str(part).encode())
    return h.hexdigest()[:32]


def cached_ir(key: str, convert: Any) -> Any:
    """The ``openvino.Model`` saved as ``<cache dir>/openvino/ir/<key>.xml``, else ``convert()`` saved there first
    (atomically; a damaged entry is converted again).  IR is a graph and weights, no code."""
    import openvino as ov

    folder = cache_dir() / "ir"
    xml = folder / f"{key}.xml"
    if xml.is_file() and xml.with_suffix(".bin").is_file():
        try:
            return core().read_model(str(xml))
        except Exception:  # noqa: BLE001 - converted again below
            pass
    model = convert()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{key}.{os.getpid()}.xml"
    ov.save_model(model, str(tmp), compress_to_fp16=False)
    os.replace(tmp.with_suffix(".bin"), xml.with_suffix(".bin"))
    os.replace(tmp, xml)
    return model


def default_precision(device: str = "CPU") -> str:
    """OpenVINO's default inference precision for float ops on ``device`` ('f32', 'bf16' or 'f16')."""
    value = core().get_property(device, "INFERENCE_PRECISION_HINT")
    name = getattr(value, "get_type_name", lambda: str(value))()
    return {"bfloat16": "bf16", "float32": "f32", "float16": "f16"}.get(name, name)


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def isa_from_flags(flags: set[str]) -> str:
    """Name of the widest relevant ISA given /proc/cpuinfo flags (see :func:`cpu_isa`)."""
    if {"amx_int8", "amx_bf16", "amx_tile"} & flags:
        return "AMX"
    if "avx512f" in flags:
        return "AVX-512 VNNI" if "avx512_vnni" in flags else "AVX-512"
    if "avx2" in flags:
        return "AVX2 VNNI" if "avx_vnni" in flags else "AVX2"
    return "baseline"


@functools.cache
def cpu_isa() -> str:
    """'AMX' | 'AVX-512 VNNI' | 'AVX-512' | 'AVX2 VNNI' | 'AVX2' | 'baseline' for this CPU (/proc/cpuinfo; elsewhere
    torch's detected capability)."""
    flags = _cpu_flags()
    if flags:
        return isa_from_flags(flags)
    import torch

    cap = str(torch.backends.cpu.get_cpu_capability()).upper()
    return {"AVX512": "AVX-512", "AVX2": "AVX2"}.get(cap, "baseline")


def cpu_description() -> str:
    """'<model name> (<ISA>, OpenVINO default precision <p>)', e.g. 'AMD EPYC 9R14 (AVX-512 VNNI, default bf16)'."""
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            name = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), name)
    except OSError:
        pass
    try:
        default = default_precision()
    except Exception:  # OpenVINO missing: the ISA alone
        return f"{name} ({cpu_isa()})"
    return f"{name} ({cpu_isa()}, OpenVINO default precision {default})"


_ISA_NOTE = {
    "AMX": "AMX runs bf16 and INT8 matrix tiles alike",
    "AVX-512 VNNI": "VNNI gives INT8 dot products, AVX512-BF16 (if present) bf16 ones",
    "AVX-512": "no VNNI: INT8 runs without dedicated dot-product instructions",
    "AVX2 VNNI": "AVX-VNNI gives INT8 dot products on 256-bit vectors",
    "AVX2": "no VNNI: INT8 runs without dedicated dot-product instructions",
    "baseline": "no vector extensions OpenVINO accelerates",
}


def int8_verdict(
    isa: str,
    int8_over_f32: float,
    int8_over_default: float,
    size_ratio: float,
    default: str = "f32",
    margin: float = 1.1,
) -> str:
    """One sentence: what INT8 buys on a CPU of kind ``isa`` given measured throughput ratios (INT8 / f32,
    INT8 / OpenVINO's default precision ``default``) and ``size_ratio`` (f32 size / INT8 size).  Speed is claimed
    only where INT8 is at least ``margin`` times faster than what the CPU already runs by default."""
    note = _ISA_NOTE.get(isa, isa)
    if int8_over_default >= margin:
        return (
            f"On this {isa} CPU ({note}) INT8 is {int8_over_default:.2f}x as fast as OpenVINO's default "
            f"precision ({default}) and {int8_over_f32:.2f}x as fast as f32, at {size_ratio:.1f}x smaller weights."
        )
    return (
        f"On this {isa} CPU ({note}) INT8 buys size ({size_ratio:.1f}x smaller weights) but no speed over "
        f"OpenVINO's default precision ({default}: INT8 runs at {int8_over_default:.2f}x its speed; "
        f"{int8_over_f32:.2f}x that of f32)."
    )
