"""Batches that hold the refs of an image together."""
from typing import Iterator, List

from torch.utils.data import BatchSampler, Sampler

from mmseg.registry import DATA_SAMPLERS
from .image_grouped_sampler import ImageGroupedSampler, runs_of_equal_keys


def pack(runs: List[List[int]], batch_size: int) -> List[List[int]]:
    """Batches of ``batch_size`` made of whole runs where they fit.

    Runs are placed in order, each into the first open batch with room for
    all of it (a run longer than a batch first fills whole batches of its
    own). A batch is emitted when full; what is left at the end is joined
    and cut into batches, so only there may a run be split, and only the
    last batch may be short. The number of batches is that of cutting the
    same samples into consecutive batches.
    """
    batches, open_batches = [], []
    for run in runs:
        while len(run) >= batch_size:
            batches.append(run[:batch_size])
            run = run[batch_size:]
        if not run:
            continue
        for batch in open_batches:
            if len(batch) + len(run) <= batch_size:
                batch.extend(run)
                break
        else:
            batch = list(run)
            open_batches.append(batch)
        if len(batch) == batch_size:
            open_batches = [b for b in open_batches if b is not batch]
            batches.append(batch)
    rest = [i for batch in open_batches for i in batch]
    batches += [
        rest[i:i + batch_size] for i in range(0, len(rest), batch_size)
    ]
    return batches


@DATA_SAMPLERS.register_module()
class ImageGroupedBatchSampler(BatchSampler):
    """Put the refs of one image in the same batch where they fit, so the
    model encodes the image once for all of them (training).

    Takes the stream of :class:`ImageGroupedSampler` (an image's refs one
    after another) and packs whole images into batches (see :func:`pack`).
    The number of batches per epoch is that of plain batching, the same on
    every process. Config::

        train_dataloader = dict(
            batch_size=8,
            sampler=dict(type='ImageGroupedSampler', shuffle=True),
            batch_sampler=dict(type='ImageGroupedBatchSampler'),
            ...)

    Args:
        sampler (ImageGroupedSampler): The index sampler (mmengine passes
            the dataloader's ``sampler``).
        batch_size (int): Samples per batch (the dataloader's).
        drop_last (bool): Drop the last batch if it is short.
            Defaults to False.
    """

    def __init__(self,
                 sampler: Sampler,
                 batch_size: int,
                 drop_last: bool = False) -> None:
        if not isinstance(sampler, ImageGroupedSampler):
            raise TypeError(
                'ImageGroupedBatchSampler packs the image groups of '
                f'ImageGroupedSampler, got {type(sampler).__name__}; set '
                "train_dataloader.sampler=dict(type='ImageGroupedSampler').")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f'batch_size must be a positive integer, got '
                             f'{batch_size!r}.')
        super().__init__(sampler, batch_size, drop_last)

    def __iter__(self) -> Iterator[List[int]]:
        runs = runs_of_equal_keys(list(self.sampler), self.sampler.keys)
        for batch in pack(runs, self.batch_size):
            if len(batch) == self.batch_size or not self.drop_last:
                yield batch
