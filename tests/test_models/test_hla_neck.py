import pytest
import torch
import torch.nn.functional as F

from projects.haris.models.necks import HLANeck


def test_outputs_levels_and_text():
    neck = HLANeck(in_channels=[48, 48, 64], text_channels=40, dim=32,
                   num_heads=4)
    visual = [torch.randn(2, 48, 8, 8), torch.randn(2, 48, 8, 8),
              torch.randn(2, 64, 4, 4)]
    words, sentence = torch.randn(2, 6, 40), torch.randn(2, 40)
    pad = torch.zeros(2, 6, dtype=torch.bool)
    *maps, text = neck(visual, words, sentence, pad)
    assert [m.shape for m in maps] == [(2, 32, 8, 8), (2, 32, 8, 8),
                                       (2, 32, 4, 4)]
    assert text['words'].shape == (2, 6, 32)
    assert text['sentence'].shape == (2, 32)


def test_hierarchy_deep_level_reaches_shallow():
    """X1 = HLA(V1 + X2): changing only the deepest map changes X1."""
    neck = HLANeck(in_channels=[16] * 3, text_channels=16, dim=16,
                   num_heads=2).eval()
    visual = [torch.randn(1, 16, 4, 4) for _ in range(3)]
    words, sentence = torch.randn(1, 3, 16), torch.randn(1, 16)
    x1 = neck(visual, words, sentence)[0]
    visual[2] = visual[2] + 1
    x1_changed = neck(visual, words, sentence)[0]
    assert not torch.allclose(x1, x1_changed)


def test_attention_maps_of_every_level():
    neck = HLANeck(in_channels=[16] * 2, text_channels=16, dim=16,
                   num_heads=2).eval()
    visual = [torch.randn(1, 16, 4, 4), torch.randn(1, 16, 2, 2)]
    words, sentence = torch.randn(1, 3, 16), torch.randn(1, 16)
    plain = neck(visual, words, sentence)
    feats, maps = neck(visual, words, sentence, return_attention=True)
    assert len(maps) == 2
    assert maps[0]['round1'].shape == (1, 16, 3)  # level 0: 4x4 tokens
    assert maps[1]['round2'].shape == (1, 4, 3)  # level 1: 2x2 tokens
    for got, want in zip(feats[:2], plain[:2]):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
    # each level's maps are its block's, run on that level's input
    (_, _), block_maps = neck.blocks[1](
        neck.vis_proj[1](visual[1].flatten(2).transpose(1, 2)),
        neck.word_proj(words), neck.sentence_proj(sentence),
        return_attention=True)
    torch.testing.assert_close(maps[1]['round1'], block_maps['round1'])
    # a plain call afterwards is the plain tuple again
    again = neck(visual, words, sentence)
    assert len(again) == 3 and isinstance(again[2], dict)


def test_wrong_number_of_levels():
    neck = HLANeck(in_channels=[16] * 3, text_channels=16, dim=16,
                   num_heads=2)
    with pytest.raises(ValueError, match='3 levels'):
        neck([torch.randn(1, 16, 4, 4)] * 2, torch.randn(1, 3, 16),
             torch.randn(1, 16))


def test_readings_reach_every_block():
    neck = HLANeck(in_channels=[16] * 2, text_channels=16, dim=16,
                   num_heads=2, feedback_source='round1_output',
                   feedback_to='query_key_value', feedback_gate=True)
    for block in neck.blocks:
        assert (block.feedback_source, block.feedback_to,
                block.feedback_gate) == ('round1_output',
                                         'query_key_value', True)
        assert block.feedback_gate_fc.weight.shape == (16, 16)
    default = HLANeck(in_channels=[16] * 2, text_channels=16, dim=16,
                      num_heads=2)
    assert not any('gate' in k for k in default.state_dict())


def test_positions_tell_identical_tokens_apart():
    """With ``positions`` a uniform image gives place-dependent fused
    tokens, equal to the plain neck's after adding the sine encoding to
    the projected tokens; off, every place is fused alike."""
    from projects.haris.models.decode_heads.positional_encoding import \
        sine_position_2d
    torch.manual_seed(0)
    plain = HLANeck(in_channels=[16], text_channels=16, dim=16,
                    num_heads=2).eval()
    placed = HLANeck(in_channels=[16], text_channels=16, dim=16,
                     num_heads=2, positions=True).eval()
    placed.load_state_dict(plain.state_dict())  # no new parameters
    visual = [torch.ones(1, 16, 3, 5)]
    words, sentence = torch.randn(1, 3, 16), torch.randn(1, 16)
    flat = plain(visual, words, sentence)[0].flatten(2)
    assert torch.allclose(flat, flat[..., :1].expand_as(flat), atol=1e-5)
    out = placed(visual, words, sentence)[0].flatten(2)
    assert not torch.allclose(out, out[..., :1].expand_as(out), atol=1e-3)
    # the same as feeding the plain block the encoded tokens
    v = placed.vis_proj[0](visual[0].flatten(2).transpose(1, 2))
    v = v + sine_position_2d(3, 5, 16)
    w, s = placed.word_proj(words), placed.sentence_proj(sentence)
    x, _ = placed.blocks[0](v, w, s, None)
    torch.testing.assert_close(out, x.transpose(1, 2))


def random_neck(**kwargs):
    """A neck in eval mode with every parameter random, LayerNorm scales
    and biases included (as ``random_block`` in test_hla_block)."""
    neck = HLANeck(in_channels=[24, 24, 40], text_channels=20, dim=32,
                   num_heads=4, **kwargs).eval()
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for name, p in neck.named_parameters():
            is_scale = name.endswith('weight') and p.dim() == 1
            p.copy_(float(is_scale) + 0.3 * torch.randn(p.shape, generator=g))
    return neck


def reference_neck(neck, visual, words, sentence, pad, **block_kwargs):
    """The neck as the design states it, each block by the block's
    reference (test_hla_block): every input projected to D (Linear then
    LayerNorm); from the deepest level to the shallowest,
    X_n = HLA(V_n), X_i = HLA(V_i + up(X_{i+1})), up = bilinear resize to
    level i's grid; the words refined by level i + 1 are level i's words;
    the sentence is projected once and shared."""
    from tests.test_models.test_hla_block import norm, reference

    def project(seq, x):
        return norm(seq[1], F.linear(x, seq[0].weight, seq[0].bias))

    w = project(neck.word_proj, words)
    s = project(neck.sentence_proj, sentence)
    outs = [None] * len(visual)
    for i in reversed(range(len(visual))):
        b, _, h, wd = visual[i].shape
        v = project(neck.vis_proj[i], visual[i].flatten(2).transpose(1, 2))
        if i + 1 < len(visual):
            up = F.interpolate(outs[i + 1], (h, wd), mode='bilinear',
                               align_corners=False)
            v = v + up.flatten(2).transpose(1, 2)
        x, w, _ = reference(neck.blocks[i], v, w, s, pad, **block_kwargs)
        outs[i] = x.transpose(1, 2).reshape(b, -1, h, wd)
    return outs, w, s


@pytest.mark.parametrize('feedback,vwa', [(True, True), (False, False)])
def test_neck_matches_the_design_chain(feedback, vwa):
    neck = random_neck(feedback=feedback, vwa=vwa)
    g = torch.Generator().manual_seed(6)
    # three levels: 8x8, then 4x4 twice (an upsampled and a same-size step)
    visual = [torch.randn(2, 24, 8, 8, generator=g),
              torch.randn(2, 24, 4, 4, generator=g),
              torch.randn(2, 40, 4, 4, generator=g)]
    words = torch.randn(2, 5, 20, generator=g)
    sentence = torch.randn(2, 20, generator=g)
    pad = torch.tensor([[False] * 5, [False] * 2 + [True] * 3])
    words[pad] = 50.0  # an unmasked padding word would show
    with torch.no_grad():
        *maps, text = neck(visual, words, sentence, pad)
        ref_maps, ref_words, ref_sentence = reference_neck(
            neck, visual, words, sentence, pad, feedback=feedback, vwa=vwa,
            out_norm=True)
    assert len(maps) == 3
    for got, want in zip(maps, ref_maps):
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
    real = ~pad
    torch.testing.assert_close(text['words'][real], ref_words[real],
                               atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(text['sentence'], ref_sentence)
    assert torch.equal(text['word_padding_mask'], pad)
