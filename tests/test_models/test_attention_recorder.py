"""record_attention: maps from a model's forward, nothing left behind."""
import pytest
import torch
import torch.nn as nn

from projects.haris.models.necks import HLANeck
from projects.haris.models.utils import record_attention


class Wrapper(nn.Module):
    """A model that calls the neck positionally, as the segmentor does."""

    def __init__(self, neck):
        super().__init__()
        self.neck = neck

    def forward(self, visual, words, sentence):
        return self.neck(visual, words, sentence)[0]


def setup():
    torch.manual_seed(0)
    neck = HLANeck(in_channels=[16] * 2, text_channels=16, dim=16,
                   num_heads=2).eval()
    visual = [torch.randn(2, 16, 4, 4), torch.randn(2, 16, 2, 2)]
    words, sentence = torch.randn(2, 3, 16), torch.randn(2, 16)
    return Wrapper(neck), (visual, words, sentence)


def no_hooks(module):
    return not (module._forward_hooks or module._forward_pre_hooks)


def test_records_each_call_and_caller_gets_plain_output():
    model, args = setup()
    plain = model(*args)
    with record_attention(model.neck) as calls:
        recorded = model(*args)
        model(*args)
    torch.testing.assert_close(recorded, plain, atol=1e-5, rtol=1e-4)
    assert len(calls) == 2
    _, direct = model.neck(*args, return_attention=True)
    for level in range(2):
        for name in ('round1', 'round2'):
            torch.testing.assert_close(calls[0][level][name],
                                       direct[level][name])
    assert no_hooks(model.neck)
    model(*args)  # after the block: not recorded
    assert len(calls) == 2


def test_maps_are_detached():
    model, args = setup()
    with record_attention(model.neck) as calls:
        model(*args).sum().backward()
    assert not calls[0][0]['round1'].requires_grad
    assert model.neck.blocks[0].lwa.in_proj_weight.grad is not None


def test_hooks_removed_when_the_forward_raises():
    model, (visual, words, sentence) = setup()
    with pytest.raises(ValueError, match='2 levels'):
        with record_attention(model.neck) as calls:
            model(visual[:1], words, sentence)
    assert calls == [] and no_hooks(model.neck)
    assert len(model.neck(visual, words, sentence)) == 3


def test_nested_recorders_and_explicit_request():
    model, args = setup()
    with record_attention(model.neck) as outer:
        with record_attention(model.neck) as inner:
            out = model(*args)
            feats, maps = model.neck(*args, return_attention=True)
        model(*args)
    assert out.shape == (2, 16, 4, 4)
    assert len(feats) == 3 and len(maps) == 2  # asked for: the pair
    assert len(inner) == 2 and len(outer) == 3
    torch.testing.assert_close(inner[0][1]['round1'],
                               outer[0][1]['round1'])
    assert no_hooks(model.neck)
