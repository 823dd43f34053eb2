from .adapted_clip_base import AdaptedCLIPBackboneBase
from .clip_architectures import ARCHITECTURES, CLIP_VIT_B16
from .clip_backbone import HFCLIPBackbone
from .mmpretrain_clip_text_backbone import MMPretrainCLIPTextBackbone

__all__ = [
    'ARCHITECTURES', 'AdaptedCLIPBackboneBase', 'CLIP_VIT_B16',
    'HFCLIPBackbone', 'MMPretrainCLIPTextBackbone'
]
