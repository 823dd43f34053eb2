from .attention_maps import collect_attention, draw_attention_figure
from .inferencer import RefSegInferencer

__all__ = [
    'RefSegInferencer', 'collect_attention', 'draw_attention_figure'
]
