"""Mask decoder with one learnable query conditioned on the sentence."""
from typing import List, Sequence, Union

import torch
import torch.nn as nn
from torch import Tensor

from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import SampleList
from ..utils import FFN
from .pixel_decoder import PixelDecoder
from .positional_encoding import sine_position_2d
from .query_decoder_layer import QueryDecoderLayer


@MODELS.register_module()
class QueryDecodeHead(BaseDecodeHead):
    """One-channel referring mask head.

    The pixel decoder merges the fused maps and upsamples them to pixel
    embeddings P. One learnable query plus the projected sentence passes
    through ``num_layers`` decoder layers attending to the merged
    multi-modal tokens (with 2-D sine positions). Mask logits are
    MLP(query) . P.

    Inputs are the HLA neck's output ``(X_1, ..., X_n, text)``.

    Args:
        in_channels (int): Width of the fused maps (the neck's D).
        channels (int): Width of the decoder and pixel embeddings.
        num_levels (int): Number of fused maps. Defaults to 3.
        num_upsample (int): x2 stages of the pixel decoder. Defaults to 2
            (1/16 -> 1/4 for a patch-16 ViT).
        upsample_first (bool): Pixel decoder stage order: False convolves
            and then upsamples, True upsamples and then convolves (see
            ``PixelDecoder``). Defaults to False.
        num_layers (int): Decoder layers K. Defaults to 3.
        num_heads (int): Attention heads. Defaults to 8.
        ffn_ratio (int): FFN width multiple. Defaults to 4.
        aux_loss (bool): Also supervise the mask of every earlier decoder
            layer. Defaults to False.
        aux_weight (float): Weight of each auxiliary mask loss.
            Defaults to 0.5.
        **kwargs: ``BaseDecodeHead`` arguments (``loss_decode``,
            ``threshold``, ``norm_cfg``, ...).
    """

    def __init__(self,
                 in_channels: int,
                 channels: int,
                 num_levels: int = 3,
                 num_upsample: int = 2,
                 upsample_first: bool = False,
                 num_layers: int = 3,
                 num_heads: int = 8,
                 ffn_ratio: int = 4,
                 aux_loss: bool = False,
                 aux_weight: float = 0.5,
                 norm_cfg: dict = dict(type='GN', num_groups=32),
                 num_classes: int = 2,
                 out_channels: int = 1,
                 threshold: float = 0.5,
                 init_cfg=None,
                 **kwargs) -> None:
        super().__init__(
            in_channels,
            channels,
            num_classes=num_classes,
            out_channels=out_channels,
            threshold=threshold,
            norm_cfg=norm_cfg,
            init_cfg=init_cfg,
            **kwargs)
        if out_channels != 1:
            raise ValueError('QueryDecodeHead predicts one referring mask: '
                             f'out_channels must be 1, got {out_channels}.')
        del self.conv_seg
        self.pixel_decoder = PixelDecoder(
            in_channels,
            num_levels,
            channels,
            num_upsample,
            norm_cfg,
            upsample_first=upsample_first)
        self.query = nn.Embedding(1, channels)
        self.sentence_proj = nn.Linear(in_channels, channels)
        self.layers = nn.ModuleList(
            QueryDecoderLayer(channels, num_heads, ffn_ratio,
                              self.dropout_ratio) for _ in range(num_layers))
        self.mask_embed = FFN(channels, channels)
        self.aux_loss = aux_loss
        self.aux_weight = aux_weight

    def forward(self, inputs: Sequence) -> Union[Tensor, List[Tensor]]:
        """Mask logits (B, 1, H, W) at the pixel decoder's resolution; in
        training with ``aux_loss``, the list of every layer's logits (the
        last is the prediction)."""
        *levels, text = inputs
        merged = self.pixel_decoder.merge_levels(levels)  # (B, C, h, w)
        pixels = self.pixel_decoder(merged)  # (B, C, H, W)
        b, c, h, w = merged.shape
        memory = merged.flatten(2).transpose(1, 2)  # (B, h*w, C)
        pos = sine_position_2d(h, w, c, merged.device).to(memory.dtype)
        query = self.query.weight[None].expand(b, -1, -1) + \
            self.sentence_proj(text['sentence'])[:, None]  # (B, 1, C)
        masks = []
        for layer in self.layers:
            query = layer(query, memory, pos)
            if self.aux_loss and self.training or layer is self.layers[-1]:
                masks.append(
                    torch.einsum('bqc,bchw->bqhw', self.mask_embed(query),
                                 pixels))
        return masks if self.aux_loss and self.training else masks[-1]

    def loss_by_feat(self, seg_logits: Union[Tensor, List[Tensor]],
                     batch_data_samples: SampleList) -> dict:
        """Focal/dice (``loss_decode``) on the final mask, plus weighted
        auxiliary losses, plus the pixel accuracy ``acc_seg``."""
        masks = seg_logits if isinstance(seg_logits, list) else [seg_logits]
        label = self._stack_batch_gt(batch_data_samples)  # (B, 1, H, W)
        loss_fns = self.loss_decode if isinstance(
            self.loss_decode, nn.ModuleList) else [self.loss_decode]
        losses = dict()
        for depth, logits in enumerate(masks):
            logits = resize(logits, label.shape[2:], mode='bilinear',
                            align_corners=self.align_corners)
            last = depth == len(masks) - 1
            prefix = '' if last else f'aux{depth}_'
            weight = 1.0 if last else self.aux_weight
            for loss_fn in loss_fns:
                name = prefix + loss_fn.loss_name
                value = weight * loss_fn(
                    logits, label[:, 0], ignore_index=self.ignore_index)
                losses[name] = losses.get(name, 0) + value
        valid = label[:, 0] != self.ignore_index
        pred = logits[:, 0].sigmoid() > self.threshold
        correct = (pred == (label[:, 0] == 1)) & valid
        losses['acc_seg'] = 100 * correct.sum() / valid.sum().clamp(min=1)
        return losses
