"""ContiguousSampler: blocks per process, every sample scored once."""
import math

import pytest

from projects.haris.datasets import ContiguousSampler
from projects.haris.datasets.contiguous_sampler import contiguous_chunk


def collected(length, world_size):
    """What mmengine's collect_results keeps: the processes' results
    interleaved (rank 0's first, rank 1's first, ...), cut to length."""
    parts = [contiguous_chunk(length, r, world_size)
             for r in range(world_size)]
    assert len({len(p) for p in parts}) == 1  # zip would drop the rest
    return [i for group in zip(*parts) for i in group][:length], parts


@pytest.mark.parametrize('world_size', [1, 2, 3, 4, 8])
@pytest.mark.parametrize('length', [0, 1, 2, 5, 7, 8, 29, 64])
def test_every_sample_scored_once(length, world_size):
    kept, parts = collected(length, world_size)
    assert sorted(kept) == list(range(length))
    # mmengine's round-up: the padding is one repeat on each of the last
    # `pad` ranks; without it the blocks are the dataset in order
    pad = math.ceil(length / world_size) * world_size - length
    blocks = [p[:-1] if r >= world_size - pad else p
              for r, p in enumerate(parts)]
    assert [i for block in blocks for i in block] == list(range(length))


def test_blocks_by_hand():
    assert collected(5, 2)[1] == [[0, 1, 2], [3, 4, 0]]
    assert collected(7, 3)[1] == [[0, 1, 2], [3, 4, 0], [5, 6, 0]]
    assert collected(5, 4)[1] == [[0, 1], [2, 0], [3, 0], [4, 0]]


def test_one_process_is_the_dataset_in_order():
    sampler = ContiguousSampler(list(range(11)))
    assert list(sampler) == list(range(11)) and len(sampler) == 11
