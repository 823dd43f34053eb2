import torch
import torch.nn.functional as F
from mmengine.analysis import FlopAnalyzer

from mmseg.registry import MODELS
from tests.tiny_models import tiny_model_cfg
from tools.analysis.flop_count import flops_table, sdpa_flop_jit


class Attention(torch.nn.Module):

    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v)


def test_sdpa_counts_both_products():
    q, k, v = (torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8),
               torch.randn(2, 3, 7, 4))
    analyzer = FlopAnalyzer(Attention(), (q, k, v))
    analyzer.set_op_handle('aten::scaled_dot_product_attention',
                           sdpa_flop_jit)
    assert analyzer.total() == 2 * 3 * 5 * 7 * (8 + 4)


def test_neck_flops_grow_linearly_with_visual_tokens():
    model = MODELS.build(tiny_model_cfg()).eval()
    small = flops_table(model, 64, 12, tokens=6)
    large = flops_table(model, 128, 12, tokens=6)  # 4x the visual tokens
    assert small['neck'] > 0 and small['backbone'] > 0
    assert abs(large['neck'] / small['neck'] - 4) < 0.2
    longer = flops_table(model, 64, 24, tokens=6)  # padded to twice as long
    assert longer['neck'] > small['neck']
