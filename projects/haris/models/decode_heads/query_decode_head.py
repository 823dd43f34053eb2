"""Mask decoder with one learnable query conditioned on the sentence."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from torch import Tensor

from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, SampleList
from ..utils import FFN
from .pixel_decoder import PixelDecoder
from .positional_encoding import sine_position_2d
from .query_decoder_layer import QueryDecoderLayer


PIXEL_EMBEDDINGS = ('fused', 'image')
DEFAULT_NO_TARGET_LOSS = dict(
    type='CrossEntropyLoss',
    use_sigmoid=True,
    avg_non_ignore=True,
    loss_weight=1.0,
    loss_name='loss_no_target')


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
        no_target (bool): Add the no-target output for generalized
            referring segmentation: an MLP on the final query and the peak
            of its mask logits gives one logit per sentence, P(the sentence
            names nothing in the image).
            Off, the head and its checkpoints are those of single-object
            HARIS. Defaults to False.
        loss_no_target (dict): Loss on the no-target logit against the
            sample's ``no_target`` flag (an empty ground-truth mask when the
            flag is absent). Without ``type`` its keys update
            ``DEFAULT_NO_TARGET_LOSS`` (mmseg's sigmoid cross-entropy, weight
            1, named ``loss_no_target``), so ``dict(loss_weight=5.0)``
            changes the weight only. Defaults to ``dict()``.
        no_target_threshold (float): A sentence whose no-target probability
            exceeds it is answered "no target" (empty mask).
            Defaults to 0.5.
        empty_mask_is_no_target (bool): With the no-target output, also
            answer "no target" when the predicted mask is empty, whatever
            the probability (as a model without the output answers). False
            leaves the answer to the no-target output alone (a sentence it
            answers "there is a target" may then have an empty mask).
            Prediction only; the segmentor applies it. Defaults to True.
        pixel_embeddings (str): What the pixel decoder upsamples into P:
            'fused', the neck's fused maps (the paper's reading, one P per
            sentence); or 'image', the neck's projected visual maps before
            any text enters (``text['visual']`` of :class:`HLANeck`), so P
            is computed once per image and shared by its sentences; the
            text then reaches the mask only through the query (which still
            attends to the fused maps), as in Mask2Former. Same parameters
            and state-dict keys; a model must be tested with the setting
            it was trained with. Defaults to 'fused'.
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
                 no_target: bool = False,
                 loss_no_target: ConfigType = dict(),
                 no_target_threshold: float = 0.5,
                 empty_mask_is_no_target: bool = True,
                 pixel_embeddings: str = 'fused',
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
        if pixel_embeddings not in PIXEL_EMBEDDINGS:
            raise ValueError(
                f'QueryDecodeHead: pixel_embeddings={pixel_embeddings!r} is '
                f'not one of {PIXEL_EMBEDDINGS}.')
        self.pixel_embeddings = pixel_embeddings
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
        self.no_target_threshold = no_target_threshold
        self.empty_mask_is_no_target = empty_mask_is_no_target
        if no_target:
            # input: the final query and its mask's peak logit
            self.no_target_cls = nn.Sequential(
                nn.Linear(channels + 1, channels), nn.GELU(),
                nn.Linear(channels, 1))
            if 'type' not in loss_no_target:  # e.g. only a new weight
                loss_no_target = dict(DEFAULT_NO_TARGET_LOSS,
                                      **loss_no_target)
            self.loss_no_target = MODELS.build(loss_no_target)
        else:
            self.no_target_cls = None

    def decode(self,
               inputs: Sequence) -> Tuple[List[Tensor], Optional[Tensor]]:
        """Mask logits (B, 1, H, W) at the pixel decoder's resolution, of
        the last decoder layer or, in training with ``aux_loss``, of every
        layer (the last is the prediction); and the no-target logits (B, 1)
        of the final query (None without the no-target output)."""
        *levels, text = inputs
        merged = self.pixel_decoder.merge_levels(levels)  # (B, C, h, w)
        index = None  # pixels[index[i]] are sentence i's
        if self.pixel_embeddings == 'fused':
            pixels = self.pixel_decoder(merged)  # (B, C, H, W)
        else:
            pixels, index = self.image_pixels(text)  # (G, C, H, W)
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
                    read_masks(self.mask_embed(query), pixels, index))
        no_target = None
        if self.no_target_cls is not None:
            peak = masks[-1].flatten(1).amax(1, keepdim=True)  # (B, 1)
            no_target = self.no_target_cls(torch.cat([query[:, 0], peak], 1))
        return masks, no_target

    def image_pixels(self, text: dict) -> Tuple[Tensor, Optional[Tensor]]:
        """Pixel embeddings (G, C, H, W) of the image-only maps in the
        neck's ``text`` dict, computed once per image, and the (B,) index
        of each sentence's image (None: one map per sentence)."""
        images = text.get('visual')
        if images is None:
            raise ValueError(
                "QueryDecodeHead(pixel_embeddings='image') reads the "
                "image-only maps that HLANeck returns as text['visual']; "
                "this neck gives none. Use an HLANeck or "
                "pixel_embeddings='fused'.")
        pixels = self.pixel_decoder(
            self.pixel_decoder.merge_levels(images))  # (G, C, H, W)
        return pixels, text.get('image_index')

    def forward(self, inputs: Sequence) -> Union[Tensor, List[Tensor]]:
        """The mask logits of :meth:`decode`: one tensor, or the list of
        every layer's in training with ``aux_loss``."""
        masks, _ = self.decode(inputs)
        return masks if self.aux_loss and self.training else masks[-1]

    def loss(self, inputs: Sequence, batch_data_samples: SampleList,
             train_cfg: ConfigType) -> dict:
        """Mask losses (:meth:`loss_by_feat`) and, with the no-target
        output, its loss. Without it this is mmseg's path (``forward``
        then :meth:`loss_by_feat`), as before the option existed."""
        if self.no_target_cls is None:
            return super().loss(inputs, batch_data_samples, train_cfg)
        masks, no_target = self.decode(inputs)
        losses = self.loss_by_feat(
            masks if self.aux_loss else masks[-1], batch_data_samples)
        if no_target is not None:
            target = torch.tensor(
                [sample_has_no_target(s) for s in batch_data_samples],
                dtype=torch.long, device=no_target.device)
            losses[self.loss_no_target.loss_name] = self.loss_no_target(
                no_target, target)
        return losses

    def predict_with_no_target(
            self, inputs: Sequence, batch_img_metas: List[dict],
            test_cfg: ConfigType) -> Tuple[Tensor, Optional[Tensor]]:
        """Mask logits resized to the padded input (as :meth:`predict`) and
        the no-target probabilities (B, ); without the output, mmseg's
        :meth:`predict` and None."""
        if self.no_target_cls is None:
            return self.predict(inputs, batch_img_metas, test_cfg), None
        masks, no_target = self.decode(inputs)
        logits = self.predict_by_feat(masks[-1], batch_img_metas)
        return logits, no_target[:, 0].sigmoid()

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


def read_masks(embed: Tensor, pixels: Tensor,
               index: Optional[Tensor] = None) -> Tensor:
    """Mask logits (B, Q, H, W) = query embeddings (B, Q, C) . pixel
    embeddings: (B, C, H, W), or (G, C, H, W) read by the sentences of
    each image through ``index`` (B,) without a copy per sentence."""
    if index is None:
        return torch.einsum('bqc,bchw->bqhw', embed, pixels)
    b, q, _ = embed.shape
    masks = embed.new_empty(b, q, *pixels.shape[-2:])
    for g in range(pixels.shape[0]):
        rows = (index == g).nonzero()[:, 0]
        masks[rows] = torch.einsum('rqc,chw->rqhw', embed[rows], pixels[g])
    return masks


def sample_has_no_target(sample) -> bool:
    """A training sample's no-target label: its ``no_target`` metainfo, or
    a ground-truth mask without foreground when the flag is absent."""
    flag = sample.metainfo.get('no_target')
    if flag is not None:
        return bool(flag)
    return not bool((sample.gt_sem_seg.data == 1).any())
