"""The pixel decoder's two stage orders, pinned against a reference that
writes out conv-norm-act and x2 bilinear upsampling by hand."""
import pytest
import torch
import torch.nn.functional as F

from mmseg.registry import MODELS
from projects.haris.models.decode_heads.pixel_decoder import PixelDecoder


def upsample_x2(x):
    """x2 bilinear upsampling with half-pixel centres (align_corners=False)
    written out: output 2i takes 3/4 of input i and 1/4 of input i-1,
    output 2i+1 takes 3/4 of input i and 1/4 of input i+1, edges
    clamped."""
    def along(x, dim):
        n = x.shape[dim]
        prev = x.index_select(dim, (torch.arange(n) - 1).clamp(min=0))
        nxt = x.index_select(dim, (torch.arange(n) + 1).clamp(max=n - 1))
        even, odd = 0.75 * x + 0.25 * prev, 0.75 * x + 0.25 * nxt
        return torch.stack((even, odd), dim + 1).flatten(dim, dim + 1)

    return along(along(x, 2), 3)


def conv_norm_act(stage, x):
    """The stage's 3x3 conv, GroupNorm and ReLU with its own weights."""
    x = F.conv2d(x, stage.conv.weight, stage.conv.bias, padding=1)
    norm = stage.gn
    x = F.group_norm(x, norm.num_groups, norm.weight, norm.bias, norm.eps)
    return x.clamp(min=0)


def decoder(upsample_first, num_upsample=2):
    torch.manual_seed(0)
    module = PixelDecoder(16, 3, 16, num_upsample,
                          dict(type='GN', num_groups=4),
                          upsample_first=upsample_first).eval()
    with torch.no_grad():  # non-trivial norm affine parameters
        for stage in module.stages:
            stage.gn.weight.uniform_(0.5, 1.5)
            stage.gn.bias.uniform_(-0.5, 0.5)
    return module


def test_upsample_matches_hand_bilinear():
    x = torch.randn(2, 3, 4, 5)
    torch.testing.assert_close(PixelDecoder.upsample(x), upsample_x2(x))
    one_row = torch.tensor([[[[0., 4., 8.]]]])
    # 0, 0+1, 4-1, 4+1, 8-1, 8 along the width
    torch.testing.assert_close(
        upsample_x2(one_row)[0, 0, 0],
        torch.tensor([0., 1., 3., 5., 7., 8.]))


@pytest.mark.parametrize('upsample_first', [False, True])
def test_output_shape(upsample_first):
    module = decoder(upsample_first, num_upsample=2)
    out = module(torch.randn(2, 16, 3, 5))
    assert out.shape == (2, 16, 12, 20)


def test_upsample_first_convolves_the_upsampled_map():
    module = decoder(upsample_first=True)
    x = torch.randn(2, 16, 4, 4)
    expected = x
    for stage in module.stages:
        expected = conv_norm_act(stage, upsample_x2(expected))
    torch.testing.assert_close(module(x), expected)


def test_conv_first_upsamples_the_convolved_map():
    module = decoder(upsample_first=False)
    x = torch.randn(2, 16, 4, 4)
    expected = x
    for stage in module.stages:
        expected = upsample_x2(conv_norm_act(stage, expected))
    torch.testing.assert_close(module(x), expected)


def test_orders_share_weights_but_differ():
    conv_first, upsample_first = decoder(False), decoder(True)
    # same keys and shapes: a checkpoint of one order loads into the other
    upsample_first.load_state_dict(conv_first.state_dict(), strict=True)
    x = torch.randn(1, 16, 4, 4)
    assert not torch.allclose(conv_first(x), upsample_first(x), atol=1e-3)


def test_order_must_be_bool():
    with pytest.raises(TypeError, match='upsample_first must be True'):
        PixelDecoder(16, 3, 16, upsample_first='upsample_first')


@pytest.mark.parametrize('upsample_first', [False, True])
def test_decode_head_passes_the_order(upsample_first):
    head = MODELS.build(
        dict(type='QueryDecodeHead', in_channels=32, channels=32,
             num_upsample=1, num_layers=1, num_heads=4,
             norm_cfg=dict(type='GN', num_groups=8),
             upsample_first=upsample_first,
             loss_decode=dict(type='BinaryDiceLoss')))
    assert head.pixel_decoder.upsample_first is upsample_first
