"""The two-layer MLP shared by the HLA block and the decode head."""
import torch.nn as nn


class FFN(nn.Sequential):
    """Linear - GELU - Dropout - Linear, without residual or norm (callers
    add their own).

    ``mmcv.cnn.bricks.transformer.FFN`` is not used: it adds the identity
    by default, has a second dropout after the last linear layer, and nests
    its layers (``layers.0.0.weight``), which would rename the parameters
    (``0.weight``, ``3.weight``) that trained checkpoints hold.

    Args:
        dim (int): Input and output width.
        hidden (int): Hidden width.
        dropout (float): Dropout after the activation. Defaults to 0.
    """

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden, dim))
