import pytest
import torch

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
