"""Training sampler that keeps the refs of one image next to each other."""
import math
from typing import Iterator, List, Optional

import torch
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from mmseg.registry import DATA_SAMPLERS


def image_keys(dataset) -> List[object]:
    """The image of every sample of ``dataset`` (its ``img_path``; a
    sample without one is an image of its own)."""
    keys = []
    for i in range(len(dataset)):
        path = dataset.get_data_info(i).get('img_path')
        keys.append(path if path is not None else ('sample', i))
    return keys


def runs_of_equal_keys(indices: List[int], keys: List[object]
                       ) -> List[List[int]]:
    """``indices`` cut where the image changes: [[0, 1], [5], [2, 3]]."""
    runs: List[List[int]] = []
    for i in indices:
        if runs and keys[runs[-1][-1]] == keys[i]:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


@DATA_SAMPLERS.register_module()
class ImageGroupedSampler(Sampler):
    """Shuffle images, not refs: each epoch draws a new order of the
    images and yields the refs of one image one after another.

    Every sample appears once per epoch (plus, with several processes, the
    few repeats that make the processes' shares equal, as mmengine's
    ``DefaultSampler`` pads). Each process takes a contiguous block of the
    epoch's order, so an image's refs stay in one process (only the images
    at the block edges are split). With :class:`ImageGroupedBatchSampler`
    the refs of one image share a batch, and the model runs the vision
    tower once for them (``ReferringSegmentor.loss``).

    Args:
        dataset: The training dataset; a sample's image is its
            ``img_path``.
        shuffle (bool): Draw a new image order each epoch (seeded by
            ``seed`` + epoch); False keeps the dataset's order.
            Defaults to True.
        seed (int, optional): Shared by all processes; a random one is
            synchronised when None. Defaults to None.
    """

    def __init__(self,
                 dataset,
                 shuffle: bool = True,
                 seed: Optional[int] = None) -> None:
        self.dataset = dataset
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else seed
        self.rank, self.world_size = get_dist_info()
        self.epoch = 0
        self.keys = image_keys(dataset)
        by_key: dict = {}
        for i, key in enumerate(self.keys):
            by_key.setdefault(key, []).append(i)
        self.groups = list(by_key.values())  # the refs of each image
        self.num_samples = math.ceil(len(dataset) / self.world_size)

    def epoch_order(self) -> List[int]:
        """All processes' samples of this epoch, images in a new order,
        padded to ``world_size * num_samples`` with the first ones."""
        groups = self.groups
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(self.seed + self.epoch)
            groups = [groups[i] for i in
                      torch.randperm(len(groups), generator=g).tolist()]
            groups = [[grp[i] for i in
                       torch.randperm(len(grp), generator=g).tolist()]
                      for grp in groups]
        order = [i for grp in groups for i in grp]
        total = self.num_samples * self.world_size
        while len(order) < total:  # a tiny dataset may need several rounds
            order += order[:total - len(order)]
        return order

    def __iter__(self) -> Iterator[int]:
        start = self.rank * self.num_samples
        return iter(self.epoch_order()[start:start + self.num_samples])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """The epoch whose order :meth:`__iter__` gives next."""
        self.epoch = epoch
