"""Pixel decoder: merges the fused level maps and upsamples them."""
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from torch import Tensor


class PixelDecoder(nn.Module):
    """Concatenate the levels (resized to the first level), project to
    ``channels``, then ``num_upsample`` stages of a 3x3 conv-norm-act and a
    x2 bilinear upsampling, in the order ``upsample_first`` picks.

    Args:
        in_channels (int): Channels of every level map.
        num_levels (int): Number of level maps.
        channels (int): Output channels.
        num_upsample (int): x2 stages; 2 turns a 1/16 grid into 1/4.
        norm_cfg (dict): Norm layer config. Defaults to GroupNorm(32).
        upsample_first (bool): Order within a stage. False convolves and
            then upsamples (each conv runs on a grid 1/4 the size, so the
            stage costs 1/4 of the other order); True upsamples and then
            convolves, the usual FPN/Mask2Former order. Both orders have
            the same parameters and state-dict keys, so a checkpoint loads
            into either, but a model must be tested with the order it was
            trained with. Defaults to False.
    """

    def __init__(self,
                 in_channels: int,
                 num_levels: int,
                 channels: int,
                 num_upsample: int = 2,
                 norm_cfg: dict = dict(type='GN', num_groups=32),
                 upsample_first: bool = False) -> None:
        super().__init__()
        if not isinstance(upsample_first, bool):
            raise TypeError('upsample_first must be True (upsample, then '
                            'conv) or False (conv, then upsample), got '
                            f'{upsample_first!r}.')
        self.upsample_first = upsample_first
        self.merge = ConvModule(
            in_channels * num_levels, channels, 1, norm_cfg=norm_cfg)
        self.stages = nn.ModuleList(
            ConvModule(channels, channels, 3, padding=1, norm_cfg=norm_cfg)
            for _ in range(num_upsample))

    def merge_levels(self, levels: Sequence[Tensor]) -> Tensor:
        """(B, C, H_1, W_1) merge of all levels."""
        size = levels[0].shape[-2:]
        levels = [
            x if x.shape[-2:] == size else F.interpolate(
                x, size, mode='bilinear', align_corners=False)
            for x in levels
        ]
        return self.merge(torch.cat(levels, dim=1))

    @staticmethod
    def upsample(x: Tensor) -> Tensor:
        """x2 bilinear upsampling (B, C, H, W) -> (B, C, 2H, 2W)."""
        return F.interpolate(
            x, scale_factor=2, mode='bilinear', align_corners=False)

    def forward(self, merged: Tensor) -> Tensor:
        """Pixel embeddings (B, C, H_1 * 2^k, W_1 * 2^k)."""
        x = merged
        for stage in self.stages:
            if self.upsample_first:
                x = stage(self.upsample(x))
            else:
                x = self.upsample(stage(x))
        return x
