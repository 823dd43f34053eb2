"""Human-Like Attention (HLA) block: bottom-up and feedback (top-down)
language-weighted attention plus vision-weighted attention."""
from typing import Dict, Optional, Tuple, Union

import torch
import torch.nn as nn
from torch import Tensor

from ..utils import FFN
from ..utils.attention_parts import ImageShared, attend, project

FEEDBACK_SOURCES = ('gated_product', 'round1_output')
FEEDBACK_TARGETS = ('query', 'query_key_value')


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

    Other readings of the feedback round that the paper's text allows
    (each off by default; off, the block and its state-dict keys are as
    above):

    - ``feedback_source='round1_output'``: M = Norm(V + T1), the round-1
      output tokens, instead of Norm(V * T1).
    - ``feedback_to='query_key_value'``: the fed-back tokens V + g are
      also what the block's words read: VWA becomes
      W' = Norm(W + MHA(q=W, kv=V + g)), so the signal reaches the keys and
      values of the vision-grounded words (LWA's own keys/values are
      words and get no visual signal). Needs ``vwa=True``.
    - ``feedback_gate=True``: g = 2 * sigmoid(Linear(M * s)) * g, a
      learned per-channel gate in (0, 2); its Linear starts at zero, so the
      gate is exactly 1 and training starts at the default reading.

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
        feedback_source (str): What the feedback is computed from:
            'gated_product' (Norm(V * T1)) or 'round1_output'
            (Norm(V + T1)). Defaults to 'gated_product'.
        feedback_to (str): Where the feedback goes: 'query' (round 2's
            queries) or 'query_key_value' (also the visual keys/values
            of VWA's word update). Defaults to 'query'.
        feedback_gate (bool): Learned gate on the feedback signal.
            Defaults to False.
    """

    def __init__(self,
                 dim: int = 256,
                 num_heads: int = 8,
                 feedback: bool = True,
                 vwa: bool = True,
                 ffn_ratio: int = 4,
                 dropout: float = 0.0,
                 out_norm: bool = True,
                 feedback_source: str = 'gated_product',
                 feedback_to: str = 'query',
                 feedback_gate: bool = False) -> None:
        super().__init__()
        for name, value, allowed in (
            ('feedback_source', feedback_source, FEEDBACK_SOURCES),
            ('feedback_to', feedback_to, FEEDBACK_TARGETS)):
            if value not in allowed:
                raise ValueError(f'HLABlock: {name}={value!r} is not one of '
                                 f'{allowed}.')
        changed = [
            name for name, value, default in (
                ('feedback_source', feedback_source, 'gated_product'),
                ('feedback_to', feedback_to, 'query'),
                ('feedback_gate', feedback_gate, False)) if value != default
        ]
        if changed and not feedback:
            raise ValueError(
                f'HLABlock: {", ".join(changed)} change the feedback round, '
                'which feedback=False turns off; keep their defaults or set '
                'feedback=True.')
        if feedback_to == 'query_key_value' and not vwa:
            raise ValueError(
                "HLABlock: feedback_to='query_key_value' adds the feedback "
                "to VWA's keys and values, which vwa=False removes; set "
                "vwa=True or feedback_to='query'.")
        self.feedback = feedback
        self.vwa = vwa
        self.feedback_source = feedback_source
        self.feedback_to = feedback_to
        self.feedback_gate = feedback_gate

        def mha() -> nn.MultiheadAttention:
            return nn.MultiheadAttention(
                dim, num_heads, dropout=dropout, batch_first=True)

        self.lwa = mha()
        if feedback:
            self.round1_norm = nn.LayerNorm(dim)
            self.feedback_mlp = FFN(dim, dim, dropout)
        if feedback_gate:
            self.feedback_gate_fc = nn.Linear(dim, dim)
            nn.init.zeros_(self.feedback_gate_fc.weight)  # gate = 1 at start
            nn.init.zeros_(self.feedback_gate_fc.bias)
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
        image_index: Optional[Tensor] = None,
        return_attention: bool = False
    ) -> Union[Tuple[Tensor, Tensor], Tuple[Tuple[Tensor, Tensor], Dict[
            str, Tensor]]]:
        """Fuse one level.

        Args:
            vis (Tensor): Visual tokens (B, N, D); or, with ``image_index``,
                the (G, N, D) tokens of G distinct images.
            words (Tensor): Word features (B, L, D).
            sentence (Tensor): Sentence feature (B, D).
            pad_mask (Tensor, optional): (B, L), True at padding words.
            image_index (Tensor, optional): (B,) index into ``vis`` of each
                sentence's image. The projections of ``vis`` that no text
                enters (LWA's round-1 queries, VWA's visual keys/values
                and queries) then run once per image. The result equals
                the call on ``vis[image_index]`` up to float rounding.
                Defaults to None.
            return_attention (bool): Also return the LWA maps (slower: the
                unfused attention path). Defaults to False.

        Returns:
            tuple[Tensor, Tensor]: Fused visual tokens (B, N, D) and the
            vision-grounded words (B, L, D) for the next level. With
            ``return_attention``, the pair ``(that tuple, maps)`` where
            ``maps`` holds ``round1`` and, with feedback, ``round2``: the
            head-averaged LWA weights (B, N, L) of each round (each visual
            token's attention over the words); with VWA, ``vwa``: the
            head-averaged weights of its word update, each word's attention
            over the visual tokens, transposed to (B, N, L).
        """
        maps: Dict[str, Tensor] = {}
        shared = ImageShared(vis, image_index)
        vis = shared.per_sentence  # (B, N, D)
        if image_index is None:
            t1, maps['round1'] = self.language_weighted(
                vis, words, pad_mask, return_attention)
        else:
            t1, maps['round1'] = attend(
                self.lwa, shared.project(self.lwa, 'query'),
                project(self.lwa, words, 'key'),
                project(self.lwa, words, 'value'), pad_mask,
                return_attention)
        fed = vis  # the visual tokens VWA's words read
        if self.feedback:
            if self.feedback_source == 'gated_product':
                m = self.round1_norm(vis * t1)  # (B, N, D)
            else:
                m = self.round1_norm(vis + t1)
            modulated = m * sentence[:, None]  # (B, N, D)
            g = self.feedback_mlp(modulated)  # (B, N, D)
            if self.feedback_gate:
                g = 2 * torch.sigmoid(self.feedback_gate_fc(modulated)) * g
            t2, maps['round2'] = self.language_weighted(
                vis + g, words, pad_mask, return_attention)
            x_lang = vis + t2
            if self.feedback_to == 'query_key_value':
                fed = vis + g
        else:
            x_lang = vis + t1
        fused = vis + x_lang
        if self.vwa:
            if image_index is None or fed is not vis:
                w_att, w_map = self.word_attn(
                    words, fed, fed, need_weights=return_attention,
                    average_attn_weights=True)
            else:  # the keys/values are the image's tokens
                w_att, w_map = attend(
                    self.word_attn, project(self.word_attn, words, 'query'),
                    shared.project(self.word_attn, 'key'),
                    shared.project(self.word_attn, 'value'),
                    need_weights=return_attention)
            if return_attention:  # (B, L, N) -> (B, N, L), as LWA's maps
                maps['vwa'] = w_map.transpose(1, 2)
            words = self.word_norm(words + w_att)  # (B, L, D)
            if image_index is None:
                x_vis, _ = self.vision_attn(
                    vis, words, words, key_padding_mask=pad_mask,
                    need_weights=False)
            else:
                x_vis, _ = attend(
                    self.vision_attn,
                    shared.project(self.vision_attn, 'query'),
                    project(self.vision_attn, words, 'key'),
                    project(self.vision_attn, words, 'value'), pad_mask)
            fused = fused + x_vis
        y = self.fuse_norm(fused)
        out = self.out_norm(y + self.ffn(y)), words
        if return_attention:
            return out, maps
        return out

