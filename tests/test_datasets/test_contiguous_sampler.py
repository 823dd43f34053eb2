"""ContiguousSampler: blocks per process, every sample scored once."""
import json
import math
import socket

import pytest
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.dist import collect_results

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


LENGTHS = (1, 2, 5, 8, 11)


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def sampler_worker(rank, world_size, port, out_dir):
    """Score a toy dataset in this process's order and collect the
    results with mmengine's collect_results, as the test loop does."""
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=world_size)
    try:
        out = {}
        for length in LENGTHS:
            dataset = [f'sample {i}' for i in range(length)]
            sampler = ContiguousSampler(dataset)
            indices = list(sampler)
            results = [dict(index=i, text=dataset[i]) for i in indices]
            out[length] = dict(
                indices=indices,
                collected=collect_results(results, length, device='cpu'))
        with open(f'{out_dir}/rank{rank}.json', 'w') as f:
            json.dump(out, f)
    finally:
        dist.destroy_process_group()


def test_two_processes_collect_every_sample_once_in_order(tmp_path):
    # fork: the workers start in a second instead of re-importing torch
    mp.start_processes(sampler_worker,
                       args=(2, free_port(), str(tmp_path)), nprocs=2,
                       start_method='fork')
    ranks = [json.load(open(tmp_path / f'rank{r}.json')) for r in (0, 1)]
    for length in LENGTHS:
        got = ranks[0][str(length)]['collected']
        # every sample once, each with its own text; the padding (a repeat
        # of sample 0 on rank 1 for odd lengths) is what collection drops
        assert sorted(got, key=lambda r: r['index']) == [
            dict(index=i, text=f'sample {i}') for i in range(length)], length
        assert ranks[1][str(length)]['collected'] is None  # rank 0's only
        first, second = (r[str(length)]['indices'] for r in ranks)
        # contiguous blocks: rank 0 holds the first half (an image's
        # neighbouring sentences stay in one process)
        half = math.ceil(length / 2)
        assert first == list(range(half)), length
        assert second[:length - half] == list(range(half, length)), length
