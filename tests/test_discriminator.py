import pytest
import torch

from gsoc_helpers.models.discriminator import ProjectionDiscriminator


def _d(ndf=8):
    torch.manual_seed(0)
    return ProjectionDiscriminator(ndf=ndf, num_classes=10).eval()


def test_shapes_and_features():
    d = _d()
    x = torch.randn(3, 3, 32, 32)
    y = torch.tensor([0, 4, 9])
    logits, feats = d(x, y, return_features=True)
    assert logits.shape == (3,)
    assert [tuple(f.shape) for f in feats] == [(3, 8, 16, 16), (3, 8, 8, 8), (3, 16, 4, 4), (3, 32, 2, 2)]
    assert torch.allclose(d(x, y), logits)


def test_spectral_norm_on_every_layer():
    d = _d()
    names = {n for n, _ in d.named_parameters()}
    assert {"linear.weight_orig", "embed.weight_orig"} <= names
    assert all(f"blocks.{i}.0.weight_orig" in names for i in range(4))


def test_projection_term_depends_on_class():
    d = _d()
    x = torch.randn(1, 3, 32, 32).repeat(10, 1, 1, 1)
    logits = d(x, torch.arange(10))
    assert logits.unique().numel() == 10  # same image, different class -> different logit
    # the difference between two classes is exactly <embed(a) - embed(b), pooled features>
    _, feats = d(x[:1], torch.tensor([0]), return_features=True)
    pooled = feats[-1].sum(dim=(2, 3))[0]
    emb = d.embed(torch.tensor([3, 7]))
    assert torch.allclose(logits[3] - logits[7], ((emb[0] - emb[1]) * pooled).sum(), atol=1e-5)


def test_one_hot_labels_equal_int_labels():
    d = _d()
    x = torch.randn(2, 3, 32, 32)
    y = torch.tensor([2, 5])
    assert torch.allclose(d(x, y), d(x, torch.nn.functional.one_hot(y, 10).float()))


def test_bad_input():
    d = _d()
    with pytest.raises(ValueError, match="2 images but 3 labels"):
        d(torch.randn(2, 3, 32, 32), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError):
        ProjectionDiscriminator(ndf=0)
