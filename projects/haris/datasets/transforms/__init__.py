from .expression import PickExpression, TokenizeExpression
from .flip import RandomFlipReferring
from .mask_loading import LoadReferringMask

__all__ = [
    'LoadReferringMask', 'PickExpression',
    'RandomFlipReferring', 'TokenizeExpression'
]
