import pytest
import torch
from torch import nn

from gsoc_helpers.training.ema import EMA


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor([0.0, 4.0]))
        self.register_buffer("count", torch.tensor(0.0))


def test_update_hand_computed_and_buffers_copied():
    m = Tiny()
    ema = EMA(m, decay=0.75, warmup=False)
    with torch.no_grad():
        m.w.copy_(torch.tensor([4.0, 0.0]))
        m.count.fill_(7.0)
    ema.update(m)  # 0.75 * [0, 4] + 0.25 * [4, 0] = [1, 3]
    assert torch.allclose(ema.module.w, torch.tensor([1.0, 3.0]))
    assert ema.module.count.item() == 7.0
    ema.update(m)  # 0.75 * [1, 3] + 0.25 * [4, 0] = [1.75, 2.25]
    assert torch.allclose(ema.module.w, torch.tensor([1.75, 2.25]))
    assert not ema.module.w.requires_grad


def test_warmup_decay():
    ema = EMA(Tiny(), decay=0.999)
    assert ema.current_decay() == pytest.approx(0.1)  # (1 + 0) / (10 + 0)
    ema.num_updates = 90
    assert ema.current_decay() == pytest.approx(91 / 100)
    ema.num_updates = 10**6
    assert ema.current_decay() == 0.999


def test_state_dict_roundtrip():
    m = Tiny()
    ema = EMA(m, decay=0.5)
    with torch.no_grad():
        m.w.add_(2.0)
    ema.update(m)
    other = EMA(Tiny(), decay=0.9)
    other.load_state_dict(ema.state_dict())
    assert torch.equal(other.module.w, ema.module.w)
    assert other.num_updates == 1 and other.decay == 0.5


def test_bad_decay():
    with pytest.raises(ValueError, match="decay"):
        EMA(Tiny(), decay=1.5)
