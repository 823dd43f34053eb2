from .contiguous_sampler import ContiguousSampler
from .generic_dataset import GenericReferringDataset
from .grefcoco_dataset import GRefCocoDataset
from .image_decoding import read_image
from .image_grouped_batch_sampler import ImageGroupedBatchSampler
from .image_grouped_sampler import ImageGroupedSampler
from .phrasecut_dataset import PhraseCutDataset
from .refcoco_dataset import RefCocoDataset
from .referring_dataset import ReferringDataset
from .synthetic_dataset import SyntheticReferringDataset
from .transforms import *  # noqa: F401,F403

__all__ = [
    'ContiguousSampler', 'GenericReferringDataset', 'GRefCocoDataset',
    'ImageGroupedBatchSampler', 'ImageGroupedSampler', 'PhraseCutDataset',
    'RefCocoDataset', 'ReferringDataset', 'SyntheticReferringDataset',
    'read_image'
]
