"""Parameter counts of a HARIS model, per part.

Used by ``tools/analysis/count_params.py`` and ``benchmarks/parameters.py``;
import it from a checkout as
``from tools.analysis.parameter_count import parameter_table``.
"""
from typing import Dict, Tuple

import torch.nn as nn

ADAPTER_MARKERS = ('lora_', 'ia3_', 'adaption')


def count(module: nn.Module) -> Tuple[int, int]:
    """(total, trainable) parameters of ``module``."""
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters()
                    if p.requires_grad)
    return total, trainable


def parameter_table(model: nn.Module) -> Dict[str, Tuple[int, int]]:
    """{part: (total, trainable)} for the backbone (and its adapters),
    neck, decode head and the whole model."""
    adapters = sum(p.numel() for n, p in model.backbone.named_parameters()
                   if any(m in n for m in ADAPTER_MARKERS))
    rows = {'backbone': count(model.backbone),
            'backbone adapters': (adapters, adapters)}
    for name in ('neck', 'decode_head'):
        rows[name] = count(getattr(model, name))
    rows['total'] = count(model)
    return rows
