"""FLOPs of a HARIS model, per part, with mmengine's FlopAnalyzer.

Used by ``tools/analysis/count_params.py --flops SIZE`` and by the
benchmarks; import it from a checkout as
``from tools.analysis.flop_count import flops_table`` (the repository root
on ``sys.path``). It is not part of the installed ``projects.haris``
package.
"""
import math
from typing import Any, List

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import get_shape


def sdpa_flop_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """Multiply-adds of ``scaled_dot_product_attention`` (Q K^T and the
    weighted sum of V), which mmengine does not count by itself."""
    q, k, v = (get_shape(x) for x in inputs[:3])
    batch = math.prod(q[:-2])
    return batch * q[-2] * k[-2] * (q[-1] + v[-1])


class PlainForward(nn.Module):
    """image, token ids, token mask -> mask logits (for FLOP counting)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, img, ids, mask):
        return self.model.decode_head(self.model.encode(img, ids, mask))


def flops_table(model: nn.Module, size: int, length: int,
                tokens: int = 3) -> dict:
    """GFLOPs (multiply-adds, fvcore convention, attention included) per
    part for one ``size`` x ``size`` image and a sentence of ``tokens``
    real tokens (start and end included) padded to ``length``."""
    if not 2 <= tokens <= length:
        raise ValueError(f'tokens must be in [2, {length}], got {tokens}.')
    img = torch.zeros(1, 3, size, size)
    ids = torch.zeros(1, length, dtype=torch.long)
    ids[0, :tokens] = 320
    ids[0, 0], ids[0, tokens - 1] = 49406, 49407
    mask = ids != 0
    analyzer = FlopAnalyzer(PlainForward(model).eval(), (img, ids, mask))
    analyzer.set_op_handle('aten::scaled_dot_product_attention',
                           sdpa_flop_jit)
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    by_module = analyzer.by_module()
    return {
        part: by_module.get(f'model.{part}', 0) / 1e9
        for part in ('backbone', 'neck', 'decode_head')
    } | {'total': analyzer.total() / 1e9}
