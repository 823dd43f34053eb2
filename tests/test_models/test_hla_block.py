import torch

from projects.haris.models.necks import HLABlock


def inputs(b=2, n=16, l=5, d=32):
    g = torch.Generator().manual_seed(1)
    vis = torch.randn(b, n, d, generator=g)
    words = torch.randn(b, l, d, generator=g)
    sentence = torch.randn(b, d, generator=g)
    pad = torch.zeros(b, l, dtype=torch.bool)
    pad[0, 3:] = True
    return vis, words, sentence, pad


def test_shapes_and_word_update():
    block = HLABlock(dim=32, num_heads=4)
    vis, words, sentence, pad = inputs()
    out, new_words = block(vis, words, sentence, pad)
    assert out.shape == vis.shape
    assert new_words.shape == words.shape
    assert not torch.allclose(new_words, words)


def test_without_vwa_words_pass_through():
    block = HLABlock(dim=32, num_heads=4, vwa=False)
    vis, words, sentence, pad = inputs()
    _, new_words = block(vis, words, sentence, pad)
    assert torch.equal(new_words, words)


def test_feedback_changes_output_and_attention():
    torch.manual_seed(0)
    with_fb = HLABlock(dim=32, num_heads=4, feedback=True)
    torch.manual_seed(0)
    without = HLABlock(dim=32, num_heads=4, feedback=False)
    without.load_state_dict(with_fb.state_dict(), strict=False)
    vis, words, sentence, pad = inputs()
    with_fb.keep_attn = True
    out_fb, _ = with_fb(vis, words, sentence, pad)
    out_bu, _ = without(vis, words, sentence, pad)
    assert not torch.allclose(out_fb, out_bu, atol=1e-4)
    a1, a2 = with_fb.attn_maps['round1'], with_fb.attn_maps['round2']
    assert a1.shape == (2, 16, 5)
    assert not torch.allclose(a1, a2)
    # rows are distributions over words
    torch.testing.assert_close(a1.sum(-1), torch.ones(2, 16))


def test_padding_words_get_no_attention_and_do_not_matter():
    block = HLABlock(dim=32, num_heads=4).eval()
    block.keep_attn = True
    vis, words, sentence, pad = inputs()
    out, _ = block(vis, words, sentence, pad)
    assert block.attn_maps['round1'][0, :, 3:].abs().max() == 0
    words2 = words.clone()
    words2[0, 3:] = 100.0  # change padding only
    block.keep_attn = False
    out2, _ = block(vis, words2, sentence, pad)
    # VWA's word update of padded words never reaches the visual tokens
    torch.testing.assert_close(out[0], out2[0])


def test_fused_and_explicit_attention_agree():
    block = HLABlock(dim=32, num_heads=4).eval()
    vis, words, sentence, pad = inputs()
    fast, _ = block(vis, words, sentence, pad)
    block.keep_attn = True
    slow, _ = block(vis, words, sentence, pad)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-4)
