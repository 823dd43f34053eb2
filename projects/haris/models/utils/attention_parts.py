"""``nn.MultiheadAttention`` in two steps: the input projections, then the
attention on projected tokens.

Split this way, a projection of tokens that many calls share (the visual
tokens of one image read by each of its sentences) runs once and is
indexed per call, with the module's own weights (same state-dict keys).
"""
from typing import Optional, Tuple

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

PARTS = ('query', 'key', 'value')


def project(attn: nn.MultiheadAttention, x: Tensor, part: str) -> Tensor:
    """``x`` (B, N, D) through ``attn``'s query, key or value input
    projection; (B, N, D)."""
    if not attn._qkv_same_embed_dim or not attn.batch_first:
        raise ValueError('project() needs an nn.MultiheadAttention with '
                         'batch_first=True and no kdim/vdim.')
    d = attn.embed_dim
    i = PARTS.index(part)
    bias = None if attn.in_proj_bias is None else \
        attn.in_proj_bias[i * d:(i + 1) * d]
    return F.linear(x, attn.in_proj_weight[i * d:(i + 1) * d], bias)


def attend(attn: nn.MultiheadAttention,
           q: Tensor,
           k: Tensor,
           v: Tensor,
           key_padding_mask: Optional[Tensor] = None,
           need_weights: bool = False) -> Tuple[Tensor, Optional[Tensor]]:
    """What ``attn(query, key, value, key_padding_mask)`` returns, from the
    projected ``q`` (B, N, D), ``k`` and ``v`` (B, L, D) (see
    :func:`project`).

    Returns:
        tuple[Tensor, Tensor | None]: (B, N, D) and, with
        ``need_weights``, the head-averaged weights (B, N, L).
    """
    b, n, d = q.shape
    heads = attn.num_heads

    def split(x: Tensor) -> Tensor:  # (B, T, D) -> (B, heads, T, D / heads)
        return x.unflatten(-1, (heads, d // heads)).transpose(1, 2)

    q, k, v = split(q), split(k), split(v)
    mask = None
    if key_padding_mask is not None:  # True = padding -> masked out
        mask = ~key_padding_mask.bool()[:, None, None]  # (B, 1, 1, L)
    dropout = attn.dropout if attn.training else 0.0
    weights = None
    if need_weights:
        scores = q @ k.transpose(-2, -1) / (d // heads)**0.5
        if mask is not None:
            scores = scores.masked_fill(~mask, float('-inf'))
        probs = F.dropout(scores.softmax(-1), dropout, attn.training)
        out = probs @ v  # (B, heads, N, D / heads)
        weights = probs.mean(1)  # (B, N, L)
    else:
        out = F.scaled_dot_product_attention(q, k, v, mask, dropout)
    out = attn.out_proj(out.transpose(1, 2).reshape(b, n, d))
    return out, weights


class ImageShared:
    """Visual tokens of G distinct images read by B sentences.

    Args:
        vis (Tensor): (G, N, D), or (B, N, D) without ``image_index``.
        image_index (Tensor, optional): (B,) index into ``vis``.
    """

    def __init__(self, vis: Tensor, image_index: Optional[Tensor]) -> None:
        self.vis = vis
        self.image_index = image_index
        self.per_sentence = vis if image_index is None else \
            vis.index_select(0, image_index)  # (B, N, D)

    def project(self, attn: nn.MultiheadAttention, part: str) -> Tensor:
        """``attn``'s ``part`` projection of each image's tokens, once per
        image, then per sentence (B, N, D)."""
        return project(attn, self.vis, part).index_select(0, self.image_index)
