"""Hierarchical HLA neck: fuses multi-level visual maps with text."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.registry import MODELS
from ..decode_heads.positional_encoding import sine_position_2d
from .hla_block import HLABlock


@MODELS.register_module()
class HLANeck(BaseModule):
    """Projects every input to width D and runs one HLA block per level,
    from the deepest level to the shallowest:
    X3 = HLA(V3), X2 = HLA(V2 + X3), X1 = HLA(V1 + X2).
    The words refined by one level feed the next.

    Its interface is plain tensors, so any mmseg model can use it. The
    output is a tuple ``(X_1, ..., X_n, text)``: n maps (B, D, H_i, W_i) in
    the input order, then a dict with ``words`` (B, L, D), ``sentence``
    (B, D) and ``word_padding_mask`` (B, L). mmseg heads that pick maps by
    ``in_index`` in ``0..n-1`` work unchanged. ``return_attention=True``
    also returns every level's LWA maps; :func:`record_attention` collects
    them from a whole model's forward. With ``image_index``, the visual
    maps are those of the distinct images and what needs no text is
    computed once per image (see :meth:`forward`).

    Args:
        in_channels (Sequence[int]): Channels of each visual level.
        text_channels (int): Width of word and sentence features.
        dim (int): Fusion width D. Defaults to 256.
        num_heads (int): Attention heads. Defaults to 8.
        feedback (bool): HLA feedback round. Defaults to True.
        vwa (bool): Vision-weighted attention. Defaults to True.
        ffn_ratio (int): FFN width multiple. Defaults to 4.
        dropout (float): Dropout. Defaults to 0.
        out_norm (bool): LayerNorm after each block's FFN residual (see
            :class:`HLABlock`). Defaults to True.
        feedback_source (str): 'gated_product' or 'round1_output' (see
            :class:`HLABlock`). Defaults to 'gated_product'.
        feedback_to (str): 'query' or 'query_key_value' (see
            :class:`HLABlock`). Defaults to 'query'.
        feedback_gate (bool): Learned gate on the feedback signal (see
            :class:`HLABlock`). Defaults to False.
        positions (bool): Add a 2-D sine encoding of each visual token's
            place to the projected tokens of every level, so spatial words
            ("on the left") can match places in the fusion. No parameters.
            Defaults to False.
        text_levels (int, optional): Fuse only the deepest
            ``text_levels`` levels with the text; each shallower level's
            X_i is then its projected visual map, computed once per image
            with ``image_index`` (no HLA block, so no parameters for it).
            Cuts the per-sentence work of the neck to that share of the
            levels; meant with the decode head's
            ``pixel_embeddings='image'`` (see docs/benchmarks.md). None
            fuses every level (the paper). Defaults to None.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 text_channels: int,
                 dim: int = 256,
                 num_heads: int = 8,
                 feedback: bool = True,
                 vwa: bool = True,
                 ffn_ratio: int = 4,
                 dropout: float = 0.0,
                 out_norm: bool = True,
                 feedback_source: str = 'gated_product',
                 feedback_to: str = 'query',
                 feedback_gate: bool = False,
                 positions: bool = False,
                 text_levels: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        self.positions = positions
        self.in_channels = list(in_channels)
        n = len(self.in_channels)
        if text_levels is not None and not 1 <= text_levels <= n:
            raise ValueError(
                f'HLANeck: text_levels={text_levels} must lie in [1, {n}] '
                f'(the number of levels), or be None to fuse all.')
        self.text_levels = n if text_levels is None else text_levels
        self.vis_proj = nn.ModuleList(
            nn.Sequential(nn.Linear(c, dim), nn.LayerNorm(dim))
            for c in self.in_channels)
        self.word_proj = nn.Sequential(
            nn.Linear(text_channels, dim), nn.LayerNorm(dim))
        self.sentence_proj = nn.Sequential(
            nn.Linear(text_channels, dim), nn.LayerNorm(dim))
        self.blocks = nn.ModuleList(
            HLABlock(dim, num_heads, feedback, vwa, ffn_ratio, dropout,
                     out_norm, feedback_source, feedback_to, feedback_gate)
            if i >= n - self.text_levels else nn.Identity()
            for i in range(n))

    def project_visual(self, visual: Sequence[Tensor]) -> List[Tensor]:
        """The image-only part: each level's maps (G, C_i, H_i, W_i)
        projected to tokens (G, H_i * W_i, D), with positions if asked."""
        tokens = []
        for proj, x in zip(self.vis_proj, visual):
            v = proj(x.flatten(2).transpose(1, 2))  # (G, N, D)
            if self.positions:
                h, w = x.shape[-2:]
                v = v + sine_position_2d(h, w, v.shape[-1],
                                         v.device).to(v.dtype)
            tokens.append(v)
        return tokens

    def forward(
        self,
        visual: Sequence[Tensor],
        words: Tensor,
        sentence: Tensor,
        word_padding_mask: Optional[Tensor] = None,
        image_index: Optional[Tensor] = None,
        *,
        return_attention: bool = False
    ) -> Union[Tuple, Tuple[Tuple, Tuple[Dict[str, Tensor], ...]]]:
        """Fuse all levels.

        Args:
            visual (Sequence[Tensor]): Maps (B, C_i, H_i, W_i), shallow to
                deep; or, with ``image_index``, the (G, C_i, H_i, W_i)
                maps of G distinct images.
            words (Tensor): Word features (B, L, C_t).
            sentence (Tensor): Sentence feature (B, C_t).
            word_padding_mask (Tensor, optional): (B, L), True at padding.
            image_index (Tensor, optional): (B,) index into ``visual`` of
                each sentence's image. What depends on the image only (the
                input projections, positions and the deepest level's
                projections of them) then runs once per image; the output
                equals the call on the maps indexed per sentence, up to
                float rounding. Defaults to None (one map per sentence).
            return_attention (bool): Also return the LWA maps (slower: the
                unfused attention path). Defaults to False.

        Returns:
            tuple: ``(X_1, ..., X_n, text)``; ``text`` also holds
            ``visual``, the projected image-only maps (G, D, H_i, W_i)
            (B of them without ``image_index``), and ``image_index``.
            With ``return_attention``, the pair ``(that tuple, maps)``,
            where ``maps[i]`` is level i's dict of ``round1`` (and, with
            feedback, ``round2``) head-averaged LWA weights
            (B, H_i * W_i, L) and, with VWA, ``vwa`` (see
            :meth:`HLABlock.forward`); None for a level that
            ``text_levels`` leaves unfused.
        """
        if len(visual) != len(self.blocks):
            raise ValueError(f'HLANeck was built for {len(self.blocks)} '
                             f'levels but got {len(visual)} visual maps.')
        # shape[0], not len(): an exporter keeps the batch symbolic
        check_image_index(image_index, visual[0].shape[0], words.shape[0])
        w = self.word_proj(words)  # (B, L, D)
        s = self.sentence_proj(sentence)  # (B, D)
        tokens = self.project_visual(visual)  # (G, N_i, D) each
        b = words.shape[0]
        outs: List[Tensor] = [None] * len(visual)
        maps: List[Dict[str, Tensor]] = [None] * len(visual)
        prev = None
        for i in reversed(range(len(visual))):
            h, wd = visual[i].shape[-2:]
            v, index = tokens[i], image_index
            if isinstance(self.blocks[i], nn.Identity):  # image only
                x = v if index is None else v.index_select(0, index)
                outs[i] = x.transpose(1, 2).reshape(b, -1, h, wd)
                continue
            if prev is not None:  # text has entered: one map per sentence
                if index is not None:
                    v, index = v.index_select(0, index), None
                if prev.shape[-2:] != (h, wd):
                    prev = F.interpolate(
                        prev, (h, wd), mode='bilinear', align_corners=False)
                v = v + prev.flatten(2).transpose(1, 2)  # (B, N, D)
            block_out = self.blocks[i](
                v, w, s, word_padding_mask, image_index=index,
                return_attention=return_attention)
            if return_attention:
                block_out, maps[i] = block_out
            x, w = block_out
            prev = x.transpose(1, 2).reshape(b, -1, h, wd)
            outs[i] = prev
        images = tuple(
            v.transpose(1, 2).reshape(v.shape[0], -1, *x.shape[-2:])
            for v, x in zip(tokens, visual))
        text = dict(words=w, sentence=s, word_padding_mask=word_padding_mask,
                    visual=images, image_index=image_index)
        feats = tuple(outs) + (text, )
        if return_attention:
            return feats, tuple(maps)
        return feats


def check_image_index(image_index: Optional[Tensor], images: int,
                      sentences: int) -> None:
    """``image_index`` is None, or (sentences,) indices below ``images``;
    without it there must be one map per sentence."""
    if image_index is None:
        if images != sentences:
            raise ValueError(
                f'HLANeck got {images} visual maps for {sentences} '
                'sentences; pass image_index (the index of each sentence\'s '
                'map) or one map per sentence.')
        return
    if image_index.shape != (sentences, ) or not (
            0 <= int(image_index.min()) and int(image_index.max()) < images):
        raise ValueError(
            f'HLANeck: image_index must hold one index per sentence '
            f'({sentences}) into the {images} visual maps, got '
            f'{tuple(image_index.shape)} values in '
            f'[{int(image_index.min())}, {int(image_index.max())}].')
