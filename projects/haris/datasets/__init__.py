from .generic_dataset import GenericReferringDataset
from .refcoco_dataset import RefCocoDataset
from .referring_dataset import ReferringDataset
from .synthetic_dataset import SyntheticReferringDataset
from .transforms import *  # noqa: F401,F403

__all__ = [
    'GenericReferringDataset', 'RefCocoDataset', 'ReferringDataset',
    'SyntheticReferringDataset'
]
