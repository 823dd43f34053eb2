"""Evaluation sampler that keeps an image's sentences in one process."""
import math
from typing import Iterator, List, Optional

from mmengine.dist import get_dist_info
from torch.utils.data import Sampler

from mmseg.registry import DATA_SAMPLERS


def contiguous_chunk(length: int, rank: int, world_size: int) -> List[int]:
    """Indices of ``rank``'s block of ``range(length)``, padded like
    mmengine's ``DefaultSampler(round_up=True)`` so that mmengine's
    ``collect_results`` drops exactly the padding.

    ``collect_results`` interleaves the processes' results (rank 0's first,
    rank 1's first, ..., rank 0's second, ...) and cuts the list to
    ``length``: what it cuts is the last entry of the last ``pad`` ranks.
    So every rank gets ``ceil(length / world_size)`` indices; the first
    ``world_size - pad`` ranks get that many real ones, the last ``pad``
    ranks one fewer plus a repeat of index 0 at the end.
    """
    per_rank = math.ceil(length / world_size)
    pad = per_rank * world_size - length
    full = world_size - pad  # ranks with per_rank real indices
    if rank < full:
        start, stop = rank * per_rank, (rank + 1) * per_rank
        return list(range(start, stop))
    start = full * per_rank + (rank - full) * (per_rank - 1)
    return list(range(start, start + per_rank - 1)) + [0]


@DATA_SAMPLERS.register_module()
class ContiguousSampler(Sampler):
    """Give each process a contiguous block of the dataset, in order.

    mmengine's ``DefaultSampler`` deals samples to the processes in turn,
    so with several GPUs the consecutive sentences of one image land in
    different processes and each process encodes the image again. Test
    datasets put an image's sentences next to each other; this sampler
    keeps them together, so distributed evaluation encodes each image
    about once. Every sample is scored exactly once (the padding is the
    part mmengine's result collection drops). With one process it is
    ``DefaultSampler(shuffle=False)``. For evaluation only.

    Args:
        dataset: The dataset.
        seed (int, optional): Unused; accepted for mmengine's interface.
    """

    def __init__(self, dataset, seed: Optional[int] = None) -> None:
        self.dataset = dataset
        self.rank, self.world_size = get_dist_info()
        self.indices = contiguous_chunk(len(dataset), self.rank,
                                        self.world_size)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)

    def set_epoch(self, epoch: int) -> None:
        """Nothing to reshuffle."""
