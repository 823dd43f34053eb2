"""2-D sine positional encoding (DETR style) for flattened feature maps."""
import math

import torch
from torch import Tensor


def sine_position_2d(height: int,
                     width: int,
                     dim: int,
                     device=None,
                     temperature: float = 10000.) -> Tensor:
    """Sine/cosine encoding of (y, x) on a normalised grid.

    Returns:
        Tensor: (height * width, dim); the first half encodes y, the second
        half x.
    """
    if dim % 4:
        raise ValueError(f'Positional encoding width {dim} must be a '
                         'multiple of 4.')
    quarter = dim // 4
    freq = temperature**(torch.arange(quarter, device=device) / quarter)
    ys = (torch.arange(height, device=device) + 0.5) / height * 2 * math.pi
    xs = (torch.arange(width, device=device) + 0.5) / width * 2 * math.pi

    def encode(pos: Tensor) -> Tensor:
        angles = pos[:, None] / freq  # (P, dim / 4)
        return torch.cat([angles.sin(), angles.cos()], dim=1)

    pos_y = encode(ys)[:, None].expand(height, width, dim // 2)
    pos_x = encode(xs)[None].expand(height, width, dim // 2)
    return torch.cat([pos_y, pos_x], dim=-1).reshape(height * width, dim)
