"""Pixel decoder: merges the fused level maps and upsamples them."""
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from torch import Tensor


class PixelDecoder(nn.Module):
    """Concatenate the levels (resized to the first level), project to
    ``channels``, then ``num_upsample`` stages of a 3x3 conv-norm-act
    followed by x2 bilinear upsampling (convolving before upsampling keeps
    the cost at 1/4 of the other order).

    Args:
        in_channels (int): Channels of every level map.
        num_levels (int): Number of level maps.
        channels (int): Output channels.
        num_upsample (int): x2 stages; 2 turns a 1/16 grid into 1/4.
        norm_cfg (dict): Norm layer config. Defaults to GroupNorm(32).
    """

    def __init__(self,
                 in_channels: int,
                 num_levels: int,
                 channels: int,
                 num_upsample: int = 2,
                 norm_cfg: dict = dict(type='GN', num_groups=32)) -> None:
        super().__init__()
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

    def forward(self, merged: Tensor) -> Tensor:
        """Pixel embeddings (B, C, H_1 * 2^k, W_1 * 2^k)."""
        x = merged
        for stage in self.stages:
            x = F.interpolate(
                stage(x), scale_factor=2, mode='bilinear', align_corners=False)
        return x
