from .clip_architectures import ARCHITECTURES, CLIP_VIT_B16
from .clip_backbone import HFCLIPBackbone

__all__ = ['ARCHITECTURES', 'CLIP_VIT_B16', 'HFCLIPBackbone']
