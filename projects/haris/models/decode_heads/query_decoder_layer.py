"""One Transformer decoder layer for the mask query."""
from typing import Optional

import torch.nn as nn
from torch import Tensor

from ..utils import FFN


class QueryDecoderLayer(nn.Module):
    """Self-attention, cross-attention to the multi-modal tokens, FFN; each
    followed by a residual and LayerNorm (post-norm).

    Args:
        dim (int): Width. Defaults to 256.
        num_heads (int): Attention heads. Defaults to 8.
        ffn_ratio (int): FFN hidden width multiple. Defaults to 4.
        dropout (float): Dropout. Defaults to 0.
    """

    def __init__(self,
                 dim: int = 256,
                 num_heads: int = 8,
                 ffn_ratio: int = 4,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(
            dim, num_heads, dropout=dropout, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(
            dim, num_heads, dropout=dropout, batch_first=True)
        self.ffn = FFN(dim, dim * ffn_ratio, dropout)
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(3))

    def forward(self,
                query: Tensor,
                memory: Tensor,
                memory_pos: Optional[Tensor] = None) -> Tensor:
        """query (B, Q, D), memory (B, N, D), memory_pos (N, D) or
        (B, N, D); returns (B, Q, D)."""
        q = self.norms[0](query + self.self_attn(
            query, query, query, need_weights=False)[0])
        key = memory if memory_pos is None else memory + memory_pos
        q = self.norms[1](q + self.cross_attn(
            q, key, memory, need_weights=False)[0])
        return self.norms[2](q + self.ffn(q))
