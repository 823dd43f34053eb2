from .hla_block import HLABlock
from .hla_neck import HLANeck

__all__ = ['HLABlock', 'HLANeck']
