from .clip_backbone import HFCLIPBackbone

__all__ = ['HFCLIPBackbone']
