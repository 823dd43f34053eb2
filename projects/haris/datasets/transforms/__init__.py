from .expression import PickExpression, TokenizeExpression
from .flip import RandomFlipReferring
from .mask_loading import LoadReferringMask
from .packing import PackReferringInputs

__all__ = [
    'LoadReferringMask', 'PackReferringInputs', 'PickExpression',
    'RandomFlipReferring', 'TokenizeExpression'
]
