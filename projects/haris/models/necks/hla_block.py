"""Human-Like Attention (HLA) block: bottom-up and feedback (top-down)
language-weighted attention plus vision-weighted attention."""
from typing import Dict, Optional, Tuple, Union

import torch.nn as nn
from torch import Tensor

from ..utils import FFN


class HLABlock(nn.Module):
    """One HLA fusion block on visual tokens, words and a sentence vector.

    With V (B, N, D) visual tokens, W (B, L, D) words, s (B, D) sentence:

    - LWA(Q) = cross-attention, queries Q, keys/values W (padding masked).
    - Round 1 (bottom-up): T1 = LWA(V); M = Norm(V * T1).
    - Feedback: g = MLP(M * s).
    - Round 2 (top-down): T2 = LWA(V + g), same weights; X_L = V + T2.
    - VWA: W' = Norm(W + MHA(W, V)); X_V = MHA(V, W').
    - Out: Y = Norm(V + X_L + X_V); X = Y + FFN(Y), followed by one more
      Norm with ``out_norm=True`` (post-norm, as in the decoder layers).

    Attention runs through ``nn.MultiheadAttention`` (fused
    scaled-dot-product kernels) unless the LWA maps are asked for with
    ``return_attention=True``.

    Args:
        dim (int): Fusion width D. Defaults to 256.
        num_heads (int): Attention heads. Defaults to 8.
        feedback (bool): Run the feedback round. False gives the bottom-up
            baseline X_L = V + T1. Defaults to True.
        vwa (bool): Use vision-weighted attention. Defaults to True.
        ffn_ratio (int): FFN hidden width as a multiple of D. Defaults to 4.
        dropout (float): Dropout in attention and FFN. Defaults to 0.
        out_norm (bool): LayerNorm after the FFN residual,
            X = Norm(Y + FFN(Y)). False gives X = Y + FFN(Y). Defaults to
            True.
    """

    def __init__(self,
                 dim: int = 256,
                 num_heads: int = 8,
                 feedback: bool = True,
                 vwa: bool = True,
                 ffn_ratio: int = 4,
                 dropout: float = 0.0,
                 out_norm: bool = True) -> None:
        super().__init__()
        self.feedback = feedback
        self.vwa = vwa

        def mha() -> nn.MultiheadAttention:
            return nn.MultiheadAttention(
                dim, num_heads, dropout=dropout, batch_first=True)

        self.lwa = mha()
        if feedback:
            self.round1_norm = nn.LayerNorm(dim)
            self.feedback_mlp = FFN(dim, dim, dropout)
        if vwa:
            self.word_attn = mha()
            self.word_norm = nn.LayerNorm(dim)
            self.vision_attn = mha()
        self.fuse_norm = nn.LayerNorm(dim)
        self.ffn = FFN(dim, dim * ffn_ratio, dropout)
        self.out_norm = nn.LayerNorm(dim) if out_norm else nn.Identity()

    def language_weighted(
            self, query: Tensor, words: Tensor, pad_mask: Optional[Tensor],
            need_weights: bool) -> Tuple[Tensor, Optional[Tensor]]:
        """LWA: visual queries attend to words.

        Returns:
            tuple[Tensor, Tensor | None]: Attended tokens (B, N, D) and, if
            ``need_weights``, the head-averaged weights (B, N, L).
        """
        return self.lwa(
            query,
            words,
            words,
            key_padding_mask=pad_mask,
            need_weights=need_weights,
            average_attn_weights=True)

    def forward(
        self,
        vis: Tensor,
        words: Tensor,
        sentence: Tensor,
        pad_mask: Optional[Tensor] = None,
        *,
        return_attention: bool = False
    ) -> Union[Tuple[Tensor, Tensor], Tuple[Tuple[Tensor, Tensor], Dict[
            str, Tensor]]]:
        """Fuse one level.

        Args:
            vis (Tensor): Visual tokens (B, N, D).
            words (Tensor): Word features (B, L, D).
            sentence (Tensor): Sentence feature (B, D).
            pad_mask (Tensor, optional): (B, L), True at padding words.
            return_attention (bool): Also return the LWA maps (slower: the
                unfused attention path). Defaults to False.

        Returns:
            tuple[Tensor, Tensor]: Fused visual tokens (B, N, D) and the
            vision-grounded words (B, L, D) for the next level. With
            ``return_attention``, the pair ``(that tuple, maps)`` where
            ``maps`` holds ``round1`` and, with feedback, ``round2``: the
            head-averaged LWA weights (B, N, L) of each round.
        """
        maps: Dict[str, Tensor] = {}
        t1, maps['round1'] = self.language_weighted(vis, words, pad_mask,
                                                    return_attention)
        if self.feedback:
            m = self.round1_norm(vis * t1)  # (B, N, D)
            g = self.feedback_mlp(m * sentence[:, None])  # (B, N, D)
            t2, maps['round2'] = self.language_weighted(
                vis + g, words, pad_mask, return_attention)
            x_lang = vis + t2
        else:
            x_lang = vis + t1
        fused = vis + x_lang
        if self.vwa:
            w_att, _ = self.word_attn(words, vis, vis, need_weights=False)
            words = self.word_norm(words + w_att)  # (B, L, D)
            x_vis, _ = self.vision_attn(
                vis, words, words, key_padding_mask=pad_mask,
                need_weights=False)
            fused = fused + x_vis
        y = self.fuse_norm(fused)
        out = self.out_norm(y + self.ffn(y)), words
        if return_attention:
            return out, maps
        return out
