"""Distillation trainer: a short run, bitwise resume on CPU, DDP smoke test on gloo with 2 processes."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from gsoc_helpers.training.distill import DistillConfig, DistillTrainer, run_distill

from conftest import tiny_cfg, tiny_real


def _states(tr: DistillTrainer) -> dict[str, torch.Tensor]:
    out = {}
    for name, sd in (("G", tr.G.state_dict()), ("D", tr.D.state_dict()), ("E", tr.ema.module.state_dict())):
        out.update({f"{name}.{k}": v for k, v in sd.items()})
    return out


def test_short_run_outputs(tmp_path):
    cfg = tiny_cfg(tmp_path, max_steps=4)
    res = DistillTrainer(cfg, real=tiny_real()).train()
    assert res == {"step": 4, "stopped": "max_steps", "images_per_s": pytest.approx(res["images_per_s"])}
    run = Path(cfg.out_dir)
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [1, 2, 3, 4]
    for key in (
        "feat",
        "pix",
        "adv_distill",
        "adv_fresh",
        "g_total",
        "d_distill",
        "d_real",
        "d_total",
        "lambda_pix",
        "images_per_s",
    ):
        assert all(np.isfinite(r[key]) for r in lines), key
    assert lines[0]["lambda_pix"] == pytest.approx(0.2)
    assert (run / "samples" / "step_0000003.png").is_file() and (run / "student_ema.safetensors").is_file()
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    assert int(state["step"]) == 4 and {"G", "D", "ema", "opt_g", "opt_d", "torch_rng"} <= set(state)


def test_resume_is_bitwise_identical(tmp_path):
    torch.manual_seed(0)
    full = DistillTrainer(tiny_cfg(tmp_path, out_dir=str(tmp_path / "a"), max_steps=7), real=tiny_real())
    full.train()
    first = DistillTrainer(tiny_cfg(tmp_path, out_dir=str(tmp_path / "b"), max_steps=3), real=tiny_real())
    first.train()
    torch.manual_seed(123)  # a different global state must not matter after resume
    second = DistillTrainer(tiny_cfg(tmp_path, out_dir=str(tmp_path / "b"), max_steps=7), real=tiny_real())
    assert second.train()["step"] == 7  # crosses the epoch boundary at step 5
    a, b = _states(full), _states(second)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    la = (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()
    lb = (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    strip = lambda ls: [{k: v for k, v in json.loads(x).items() if k != "images_per_s"} for x in ls]  # noqa: E731
    assert strip(la) == strip(lb)


def test_bad_config(tmp_path):
    with pytest.raises(ValueError, match="synthetic_root"):
        DistillTrainer(DistillConfig(), real=tiny_real())
    with pytest.raises(ValueError, match="z_dim"):
        DistillTrainer(tiny_cfg(tmp_path, z_dim=99), real=tiny_real())
    with pytest.raises(KeyError, match="unknown distill options"):
        DistillConfig.from_dict({"bogus": 1})


def _ddp_worker(rank: int, world: int, port: int, cfg: DistillConfig, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    try:
        tr = DistillTrainer(cfg, real=tiny_real())
        tr.train(resume=False)
        torch.save({k: v.clone() for k, v in tr.G.state_dict().items()}, f"{out}/G{rank}.pt")
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_ddp_two_cpu_processes(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = tiny_cfg(tmp_path, batch_size=4, max_steps=3, diffaug="")
    mp.spawn(_ddp_worker, args=(2, port, cfg, str(tmp_path)), nprocs=2, join=True)
    g0 = torch.load(tmp_path / "G0.pt", weights_only=True)
    g1 = torch.load(tmp_path / "G1.pt", weights_only=True)
    for k in g0:
        if "running" not in k and "num_batches" not in k:  # weights are synchronised by DDP
            assert torch.allclose(g0[k], g1[k]), k
    lines = (Path(cfg.out_dir) / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[-1])["step"] == 3  # rank 0 logs alone


def test_run_distill_single_process(tmp_path):
    cfg = tiny_cfg(tmp_path, max_steps=1, diffaug="")
    assert run_distill(cfg, real=tiny_real())["step"] == 1


def test_time_budget_stops_cleanly(tmp_path):
    cfg = tiny_cfg(tmp_path, max_minutes=1e-9, diffaug="")
    res = DistillTrainer(cfg, real=tiny_real()).train()
    assert res["stopped"] == "max_minutes" and res["step"] == 1
    assert int(torch.load(Path(cfg.out_dir) / "checkpoint.pt", weights_only=True)["step"]) == 1


def test_bf16_precision_runs_on_cpu_and_differs_from_fp32(tmp_path):
    results = {}
    for prec in ("fp32", "bf16"):
        tr = DistillTrainer(tiny_cfg(tmp_path / prec, max_steps=1, precision=prec), real=tiny_real())
        tr.train()
        results[prec] = _states(tr)
        assert all(torch.isfinite(v.float()).all() for v in results[prec].values())
    # autocast really ran: the weights after one step are not the fp32 ones
    assert any(not torch.equal(results["fp32"][k], results["bf16"][k]) for k in results["fp32"])
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16"):
        DistillConfig(precision="fp16").validate()
