from .expression import PickExpression, TokenizeExpression
from .flip import RandomFlipReferring
from .image_loading import LoadReferringImage
from .mask_loading import LoadReferringMask
from .packing import PackReferringInputs

__all__ = [
    'LoadReferringImage', 'LoadReferringMask', 'PackReferringInputs',
    'PickExpression', 'RandomFlipReferring', 'TokenizeExpression'
]
