import math

import pytest
import torch
import torch.nn.functional as F

from projects.haris.models.necks import HLABlock

D, HEADS = 32, 4


def inputs(b=2, n=16, l=5, d=D):
    g = torch.Generator().manual_seed(1)
    vis = torch.randn(b, n, d, generator=g)
    words = torch.randn(b, l, d, generator=g)
    sentence = torch.randn(b, d, generator=g)
    pad = torch.zeros(b, l, dtype=torch.bool)
    pad[0, 3:] = True
    return vis, words, sentence, pad


def padded_batch(lengths=(6, 3, 1), n=12, d=D):
    """Sentences of different lengths in one batch, with large values in
    the padding so that an unmasked padding word would show."""
    g = torch.Generator().manual_seed(2)
    b, l = len(lengths), max(lengths)
    vis = torch.randn(b, n, d, generator=g)
    words = torch.randn(b, l, d, generator=g)
    sentence = torch.randn(b, d, generator=g)
    pad = torch.arange(l)[None] >= torch.tensor(lengths)[:, None]  # (B, L)
    words[pad] = 50.0
    return vis, words, sentence, pad


def random_block(**kwargs):
    """A block in eval mode with every parameter random, LayerNorm scales
    and biases included (so a misplaced norm cannot hide behind 1 and 0)."""
    block = HLABlock(dim=D, num_heads=HEADS, **kwargs).eval()
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, p in block.named_parameters():
            scale = 1.0 if name.endswith('norm.weight') else 0.0
            p.copy_(scale + 0.3 * torch.randn(p.shape, generator=g))
    return block


# ---- reference, written from the design's equations ----------------------


def mha(attn, q, kv, pad=None):
    """Multi-head attention with ``attn``'s weights, by hand: returns the
    output (B, Nq, D) and the head-averaged weights (B, Nq, Nk)."""
    b, nq, d = q.shape
    wq, wk, wv = attn.in_proj_weight.chunk(3)
    bq, bk, bv = attn.in_proj_bias.chunk(3)
    h = attn.num_heads

    def heads(x):  # (B, N, D) -> (B, h, N, D/h)
        return x.reshape(b, x.shape[1], h, d // h).transpose(1, 2)

    qh = heads(q @ wq.T + bq)
    kh = heads(kv @ wk.T + bk)
    vh = heads(kv @ wv.T + bv)
    scores = qh @ kh.transpose(-1, -2) / math.sqrt(d // h)  # (B, h, Nq, Nk)
    if pad is not None:
        scores = scores.masked_fill(pad[:, None, None, :], float('-inf'))
    weights = scores.softmax(-1)
    out = (weights @ vh).transpose(1, 2).reshape(b, nq, d)
    return out @ attn.out_proj.weight.T + attn.out_proj.bias, weights.mean(1)


def norm(layer, x):
    return F.layer_norm(x, (x.shape[-1], ), layer.weight, layer.bias,
                        layer.eps)


def mlp(seq, x):
    """Linear - GELU - Linear with the weights of an FFN module."""
    return F.linear(F.gelu(F.linear(x, seq[0].weight, seq[0].bias)),
                    seq[3].weight, seq[3].bias)


def reference(block, V, W, s, pad, feedback, vwa, out_norm,
              source='gated_product', to='query', gate=False):
    """HLA block as the design states it:

    LWA(Q) = MHA(q=Q, kv=W, padding masked); T1 = LWA(V);
    M = Norm(V * T1); g = MLP(M * s); T2 = LWA(V + g) (same weights);
    X_L = V + T2 (V + T1 without feedback);
    W' = Norm(W + MHA(q=W, kv=V)); X_V = MHA(q=V, kv=W');
    X = FFN(Norm(V + X_L + X_V)) with residual, i.e. Y + FFN(Y).

    ``out_norm`` adds the one step the design does not have: a final
    LayerNorm, X = Norm(Y + FFN(Y)) (the block's default).

    The other readings, as docs/model.md states them:
    ``source='round1_output'``: M = Norm(V + T1);
    ``to='query_key_value'``: W' = Norm(W + MHA(q=W, kv=V + g));
    ``gate``: g = 2 * sigmoid(Linear(M * s)) * g.
    """
    maps = {}
    t1, maps['round1'] = mha(block.lwa, V, W, pad)
    words_read = V
    if feedback:
        m = norm(block.round1_norm, V * t1 if source == 'gated_product'
                 else V + t1)
        g = mlp(block.feedback_mlp, m * s[:, None])
        if gate:
            fc = block.feedback_gate_fc
            g = 2 * torch.sigmoid(F.linear(m * s[:, None], fc.weight,
                                           fc.bias)) * g
        t2, maps['round2'] = mha(block.lwa, V + g, W, pad)
        x_l = V + t2
        if to == 'query_key_value':
            words_read = V + g
    else:
        x_l = V + t1
    fused = V + x_l
    if vwa:
        w_att, w_map = mha(block.word_attn, W, words_read)
        maps['vwa'] = w_map.transpose(1, 2)  # each word over the tokens
        W = norm(block.word_norm, W + w_att)
        fused = fused + mha(block.vision_attn, V, W, pad)[0]
    y = norm(block.fuse_norm, fused)
    x = y + mlp(block.ffn, y)
    if out_norm:
        x = norm(block.out_norm, x)
    return x, W, maps


@pytest.mark.parametrize('out_norm', [False, True])
@pytest.mark.parametrize('vwa', [True, False])
@pytest.mark.parametrize('feedback', [True, False])
def test_block_matches_the_design_equations(feedback, vwa, out_norm):
    torch.manual_seed(0)
    block = random_block(feedback=feedback, vwa=vwa, out_norm=out_norm)
    vis, words, sentence, pad = padded_batch()
    with torch.no_grad():
        x_ref, w_ref, maps_ref = reference(block, vis, words, sentence, pad,
                                           feedback, vwa, out_norm)
        fast = block(vis, words, sentence, pad)
        (x, w), maps = block(vis, words, sentence, pad,
                             return_attention=True)
    for got in (fast[0], x):
        torch.testing.assert_close(got, x_ref, atol=1e-5, rtol=1e-4)
    real = ~pad
    # grounded words: compare the real words (padding rows are not used)
    torch.testing.assert_close(w[real], w_ref[real], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(fast[1][real], w_ref[real], atol=1e-5,
                               rtol=1e-4)
    assert maps.keys() == maps_ref.keys()
    for name in maps:
        torch.testing.assert_close(maps[name], maps_ref[name], atol=1e-6,
                                   rtol=1e-4)


def test_round_two_reuses_the_round_one_attention():
    """One LWA module serves both rounds: no second set of attention
    weights, and perturbing the LWA weights changes round 2 exactly as the
    reference with the perturbed weights in both rounds predicts."""
    with_fb = random_block(feedback=True)
    without = HLABlock(dim=D, num_heads=HEADS, feedback=False)
    attn = [n for n, m in with_fb.named_modules()
            if isinstance(m, torch.nn.MultiheadAttention)]
    assert attn == ['lwa', 'word_attn', 'vision_attn']
    extra = {n.split('.')[0] for n, _ in with_fb.named_parameters()} - {
        n.split('.')[0] for n, _ in without.named_parameters()}
    assert extra == {'round1_norm', 'feedback_mlp'}

    vis, words, sentence, pad = padded_batch()
    with torch.no_grad():
        _, before = with_fb(vis, words, sentence, pad,
                            return_attention=True)
        with_fb.lwa.in_proj_weight.mul_(1.5)
        _, after = with_fb(vis, words, sentence, pad,
                           return_attention=True)
        _, _, ref = reference(with_fb, vis, words, sentence, pad, True,
                              True, True)
    for name in ('round1', 'round2'):
        assert not torch.allclose(before[name], after[name], atol=1e-3)
        torch.testing.assert_close(after[name], ref[name], atol=1e-6,
                                   rtol=1e-4)


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
    (out_fb, _), maps = with_fb(vis, words, sentence, pad,
                                return_attention=True)
    (out_bu, _), maps_bu = without(vis, words, sentence, pad,
                                   return_attention=True)
    assert not torch.allclose(out_fb, out_bu, atol=1e-4)
    assert list(maps_bu) == ['round1', 'vwa']
    a1, a2 = maps['round1'], maps['round2']
    assert a1.shape == (2, 16, 5)
    torch.testing.assert_close(maps_bu['round1'], a1)  # same weights
    assert not torch.allclose(a1, a2)
    # rows are distributions over words
    torch.testing.assert_close(a1.sum(-1), torch.ones(2, 16))
    # VWA: each word's attention is a distribution over the visual tokens
    assert maps['vwa'].shape == (2, 16, 5)
    torch.testing.assert_close(maps['vwa'].sum(1), torch.ones(2, 5))


def test_padding_words_get_no_attention_and_do_not_matter():
    block = HLABlock(dim=32, num_heads=4).eval()
    vis, words, sentence, pad = inputs()
    (out, _), maps = block(vis, words, sentence, pad, return_attention=True)
    for name in ('round1', 'round2'):
        assert maps[name][0, :, 3:].abs().max() == 0
    words2 = words.clone()
    words2[0, 3:] = 100.0  # change padding only
    out2, _ = block(vis, words2, sentence, pad)
    # VWA's word update of padded words never reaches the visual tokens
    torch.testing.assert_close(out[0], out2[0])


def test_fused_and_explicit_attention_agree():
    block = HLABlock(dim=32, num_heads=4).eval()
    vis, words, sentence, pad = inputs()
    fast, _ = block(vis, words, sentence, pad)
    (slow, _), _ = block(vis, words, sentence, pad, return_attention=True)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-4)


def test_maps_only_when_asked():
    """No state on the block: a call after one that returned maps returns
    the plain pair again, and the block has no attention attributes."""
    block = HLABlock(dim=32, num_heads=4).eval()
    vis, words, sentence, pad = inputs()
    block(vis, words, sentence, pad, return_attention=True)
    out = block(vis, words, sentence, pad)
    assert len(out) == 2 and out[0].shape == vis.shape
    assert out[1].shape == words.shape
    assert not any('attn_maps' in k or 'keep_attn' in k
                   for k in vars(block))


# ---- the other readings of the feedback round (config switches) ----------

READINGS = [
    dict(feedback_source='round1_output'),
    dict(feedback_to='query_key_value'),
    dict(feedback_gate=True),
    dict(feedback_source='round1_output', feedback_to='query_key_value',
         feedback_gate=True),
]


@pytest.mark.parametrize('reading', READINGS)
def test_each_reading_matches_its_equations(reading):
    """Every switch against the reference written from its equation; all
    parameters random (the gate's too, so it is not the identity)."""
    block = random_block(**reading)
    vis, words, sentence, pad = padded_batch()
    with torch.no_grad():
        x_ref, w_ref, maps_ref = reference(
            block, vis, words, sentence, pad, True, True, True,
            reading.get('feedback_source', 'gated_product'),
            reading.get('feedback_to', 'query'),
            reading.get('feedback_gate', False))
        fast = block(vis, words, sentence, pad)
        (x, w), maps = block(vis, words, sentence, pad,
                             return_attention=True)
        # and the default reading with the same weights differs
        default = HLABlock(dim=D, num_heads=HEADS).eval()
        default.load_state_dict(block.state_dict(), strict=False)
        x_default = default(vis, words, sentence, pad)[0]
    for got in (fast[0], x):
        torch.testing.assert_close(got, x_ref, atol=1e-5, rtol=1e-4)
    real = ~pad
    torch.testing.assert_close(w[real], w_ref[real], atol=1e-5, rtol=1e-4)
    for name in ('round1', 'round2'):
        torch.testing.assert_close(maps[name], maps_ref[name], atol=1e-6,
                                   rtol=1e-4)
    assert not torch.allclose(x_default, x, atol=1e-3)


def test_defaults_are_the_paper_reading_with_the_same_keys():
    """Spelled-out defaults build the same block: the same state-dict
    keys, the same outputs. The readings without the gate add no
    parameters; the gate adds only its Linear."""
    explicit = HLABlock(dim=D, num_heads=HEADS,
                        feedback_source='gated_product',
                        feedback_to='query', feedback_gate=False).eval()
    default = random_block()
    assert list(explicit.state_dict()) == list(default.state_dict())
    explicit.load_state_dict(default.state_dict())
    vis, words, sentence, pad = padded_batch()
    with torch.no_grad():
        torch.testing.assert_close(explicit(vis, words, sentence, pad)[0],
                                   default(vis, words, sentence, pad)[0],
                                   atol=0, rtol=0)
    keys = set(default.state_dict())
    for reading in READINGS:
        extra = set(HLABlock(dim=D, num_heads=HEADS,
                             **reading).state_dict()) - keys
        assert extra == ({'feedback_gate_fc.weight', 'feedback_gate_fc.bias'}
                         if reading.get('feedback_gate') else set())


def test_gate_starts_at_the_default_reading():
    """A fresh gate is exactly 1: the gated block with the default's
    weights gives the default's output until the gate learns."""
    gated = HLABlock(dim=D, num_heads=HEADS, feedback_gate=True).eval()
    default = random_block()
    gated.load_state_dict(default.state_dict(), strict=False)
    assert gated.feedback_gate_fc.weight.abs().max() == 0
    vis, words, sentence, pad = padded_batch()
    with torch.no_grad():
        torch.testing.assert_close(gated(vis, words, sentence, pad)[0],
                                   default(vis, words, sentence, pad)[0])


@pytest.mark.parametrize('kwargs, match', [
    (dict(feedback_source='words'), "feedback_source='words' is not one"),
    (dict(feedback_to='value'), "feedback_to='value' is not one"),
    (dict(feedback=False, feedback_gate=True),
     'feedback_gate change the feedback round'),
    (dict(feedback_to='query_key_value', vwa=False), 'set vwa=True'),
])
def test_bad_switches_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HLABlock(dim=D, num_heads=HEADS, **kwargs)
