import json

import numpy as np
import pytest
import torch
from cli_checks import tiny_train_teacher

from gsoc_helpers.training.gan import GANTrainConfig, GANTrainer


def _cfg(tmp_path, **kw):
    base = dict(
        out_dir=str(tmp_path / "run"),
        steps=4,
        batch_size=4,
        ngf=8,
        ndf=8,
        z_dim=16,
        grid_every=0,
        log_every=1,
        seed=3,
        augment="color,translation,cutout",
    )
    base.update(kw)
    return GANTrainConfig(**base)


def _data():
    g = torch.Generator().manual_seed(0)
    return torch.rand(20, 3, 32, 32, generator=g) * 2 - 1, torch.arange(20) % 10


def _tensors(tr):
    out = {f"G.{k}": v for k, v in tr.G.state_dict().items()}
    out.update({f"D.{k}": v for k, v in tr.D.state_dict().items()})
    out.update({f"E.{k}": v for k, v in tr.ema.module.state_dict().items()})
    return out


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_two_steps_logs_grid_export(tmp_path):
    x, y = _data()
    tr = GANTrainer(_cfg(tmp_path, steps=2, grid_every=2))
    before = {k: v.clone() for k, v in tr.G.state_dict().items()}
    summary = tr.train(x, y, progress=False)
    assert summary["step"] == 2 and summary["stopped"] == "done"  # the stop reasons of training.loop
    lines = [json.loads(s) for s in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in lines] == [1, 2]
    assert all(np.isfinite(m["loss_d"]) and np.isfinite(m["loss_g"]) for m in lines)
    assert (tmp_path / "run" / "samples" / "step_0000002.png").is_file()
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
    assert any(not torch.equal(before[k], v) for k, v in tr.G.state_dict().items())
    from gsoc_helpers.models.registry import load_generator, read_generator_metadata

    path = tr.export()
    assert read_generator_metadata(path)["extra"]["train_steps"] == 2
    g = load_generator(path)
    assert torch.equal(
        g(torch.ones(1, 16), torch.tensor([1])), tr.ema.module.eval()(torch.ones(1, 16), torch.tensor([1]))
    )


def test_resume_equals_uninterrupted(tmp_path):
    x, y = _data()
    full = GANTrainer(_cfg(tmp_path / "a"))
    full.train(x, y, progress=False)

    first = GANTrainer(_cfg(tmp_path / "b", steps=2))
    first.train(x, y, progress=False)  # saves checkpoint.pt at the end
    with pytest.raises(ValueError, match="seed: 3 -> 99"):  # a resumed run keeps its settings
        GANTrainer(_cfg(tmp_path / "b", steps=4, seed=99)).load_checkpoint()
    resumed = GANTrainer(_cfg(tmp_path / "b", steps=4))  # a larger step budget may change
    resumed.load_checkpoint()
    assert resumed.step == 2
    resumed.train(x, y, progress=False)
    a, b = _tensors(full), _tensors(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert full.opt_g.state_dict()["state"][0]["exp_avg"].equal(resumed.opt_g.state_dict()["state"][0]["exp_avg"])


def test_max_minutes_stops_and_missing_checkpoint(tmp_path):
    x, y = _data()
    tr = GANTrainer(_cfg(tmp_path, steps=100, max_minutes=1e-9))
    assert tr.train(x, y, progress=False)["stopped"] == "max_minutes"
    assert tr.step == 1
    assert GANTrainer(_cfg(tmp_path / "none")).load_checkpoint() is False  # like the distillation trainer
    with pytest.raises(ValueError, match=r"\[N, 3, 32, 32\]"):
        tr.train(torch.zeros(2, 3, 16, 16), torch.zeros(2, dtype=torch.long), progress=False)


@pytest.mark.slow
def test_cli_train_teacher_on_image_folder(tmp_path, capsys):
    from PIL import Image

    from gsoc_helpers.cli import main
    from gsoc_helpers.data import CIFAR10_CLASSES

    rng = np.random.default_rng(0)
    for name in CIFAR10_CLASSES:
        (tmp_path / "imgs" / name).mkdir(parents=True)
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(tmp_path / "imgs" / name / "0.png")
    out = tmp_path / "cli"
    argv = tiny_train_teacher(out, tmp_path / "imgs")
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["step"] == 2 and (out / "generator_ema.safetensors").is_file()
    assert main(argv[:4] + ["3"] + argv[5:] + ["--resume"]) == 0  # resumes at step 2, runs one more
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["step"] == 3


def test_balanced_batches_hold_every_class_equally(tmp_path):
    images = torch.rand(200, 3, 32, 32) * 2 - 1
    labels = torch.tensor([0] * 155 + list(range(1, 10)) * 5)  # class 0 dominates the data
    tr = GANTrainer(_cfg(tmp_path, batch_size=30, hflip=False))
    for _ in range(3):
        real, y = tr._batch(images, labels)
        assert torch.bincount(y, minlength=10).tolist() == [3] * 10
        # each image really belongs to its label
        for img, c in zip(real, y, strict=True):
            assert any(torch.equal(img, images[i]) for i in torch.nonzero(labels == c).flatten())


def test_bf16_and_two_d_steps_train_and_refuse_bad_values(tmp_path):
    x, y = _data()
    tr = GANTrainer(_cfg(tmp_path, precision="bf16", d_steps=2))
    before = [p.detach().clone() for p in tr.D.parameters()]
    m = tr.train_step(x, y)
    assert all(np.isfinite(v) for v in m.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, tr.D.parameters(), strict=True))
    with pytest.raises(ValueError, match="precision must be one of"):
        _cfg(tmp_path, precision="fp16").validate()
    with pytest.raises(ValueError, match="d_steps"):
        _cfg(tmp_path, d_steps=0).validate()


def test_class_loss_trains_a_class_head_on_real_images(tmp_path):
    # two classes told apart by brightness alone: the head of D must learn them from the real images
    g = torch.Generator().manual_seed(1)
    y = torch.arange(40) % 2
    x = (torch.rand(40, 3, 32, 32, generator=g) * 0.2 + torch.where(y == 0, -0.8, 0.6)[:, None, None, None]).clamp(
        -1, 1
    )
    tr = GANTrainer(_cfg(tmp_path, class_loss=1.0, augment="", batch_size=8, lr_d=2e-3, balanced_classes=False))
    assert tr.D.classify is not None and GANTrainer(_cfg(tmp_path / "off")).D.classify is None
    first = tr.train_step(x, y)
    assert {"cls_real", "cls_fake"} <= set(first) and all(np.isfinite(v) for v in first.values())
    for _ in range(30):
        last = tr.train_step(x, y)
    pooled, _ = tr.D.trunk(x)
    accuracy = (tr.D.classify(pooled).argmax(1) == y).float().mean().item()
    assert last["cls_real"] < first["cls_real"] and accuracy == 1.0
    with pytest.raises(ValueError, match="class_loss"):
        _cfg(tmp_path, class_loss=-1.0).validate()


def test_init_generator_starts_from_a_saved_teacher_and_refuses_other_sizes(tmp_path):
    donor = GANTrainer(_cfg(tmp_path / "a", seed=5))
    donor.train_step(*_data())
    path = donor.export(tmp_path / "donor.safetensors")
    tr = GANTrainer(_cfg(tmp_path / "b", init_generator=str(path)))
    for k, v in donor.ema.module.state_dict().items():
        assert torch.equal(tr.G.state_dict()[k], v) and torch.equal(tr.ema.module.state_dict()[k], v)
    with pytest.raises(ValueError, match="sizes"):
        GANTrainer(_cfg(tmp_path / "c", ngf=16, init_generator=str(path)))


def test_snapshots_keep_the_ema_generator_of_every_checkpoint(tmp_path):
    from gsoc_helpers.models.registry import load_generator, read_generator_metadata

    x, y = _data()
    tr = GANTrainer(_cfg(tmp_path, steps=3, snapshots=True, checkpoint_minutes=1e-9))
    tr.train(x, y, progress=False)
    snaps = sorted((tmp_path / "run" / "snapshots").glob("*.safetensors"))
    assert [p.name for p in snaps] == [f"step_{i:07d}.safetensors" for i in (1, 2, 3)]
    assert read_generator_metadata(snaps[-1])["extra"]["train_steps"] == 3
    z, c = torch.ones(1, 16), torch.tensor([2])
    assert torch.equal(load_generator(snaps[-1])(z, c), tr.ema.module.eval()(z, c))


def test_init_generator_inside_the_run_folder_is_refused_before_anything_is_deleted(tmp_path):
    from gsoc_helpers.training.gan import run_training

    run = tmp_path / "run"
    first = GANTrainer(_cfg(tmp_path))
    first.train(*_data(), progress=False)
    path = first.export()  # run/generator_ema.safetensors, then used as the next run's start
    before = path.read_bytes()
    with pytest.raises(ValueError, match="init generator"):
        run_training(_cfg(tmp_path, init_generator=str(path)), overwrite=True, progress=False)
    assert path.read_bytes() == before and (run / "checkpoint.pt").is_file()
