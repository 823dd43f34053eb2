"""Image-grouped training batches: every ref once per epoch, an image's
refs in one batch where they fit, on one and two processes."""
import collections

import numpy as np
import pytest

from projects.haris.datasets import image_grouped_sampler
from projects.haris.datasets.image_grouped_batch_sampler import (
    ImageGroupedBatchSampler, pack)
from projects.haris.datasets.image_grouped_sampler import ImageGroupedSampler


class RefsOfImages:
    """A dataset stand-in: ``counts[k]`` refs of image k, listed with the
    images interleaved (the sampler must not rely on adjacency)."""

    def __init__(self, counts):
        self.paths = [f'{k}.jpg' for k, n in enumerate(counts)
                      for _ in range(n)]
        np.random.default_rng(0).shuffle(self.paths)

    def __len__(self):
        return len(self.paths)

    def get_data_info(self, i):
        return dict(img_path=self.paths[i])


def refcoco_like_counts(num_images=300, seed=0):
    """1 to 8 refs per image, most 2 or 3 (mean about 2.5)."""
    rng = np.random.default_rng(seed)
    return (1 + rng.poisson(1.5, num_images).clip(0, 7)).tolist()


def build(dataset, world_size, rank, batch_size, monkeypatch, seed=5):
    monkeypatch.setattr(image_grouped_sampler, 'get_dist_info',
                        lambda: (rank, world_size))
    sampler = ImageGroupedSampler(dataset, seed=seed)
    return sampler, ImageGroupedBatchSampler(sampler, batch_size)


@pytest.mark.parametrize('world_size', [1, 2])
def test_every_ref_once_per_epoch_and_images_kept_whole(
        world_size, monkeypatch):
    dataset = RefsOfImages(refcoco_like_counts())
    n, batch_size = len(dataset), 8
    orders = []
    for epoch in (0, 1):
        seen, batch_counts, split_images = [], [], 0
        for rank in range(world_size):
            sampler, batches = build(dataset, world_size, rank, batch_size,
                                     monkeypatch)
            sampler.set_epoch(epoch)
            stream = list(sampler)
            out = list(batches)
            batch_counts.append(len(out))
            assert len(out) == len(batches) == -(-len(stream) // batch_size)
            assert all(len(b) == batch_size for b in out[:-1])
            # the batches hold exactly the process's samples
            assert sorted(i for b in out for i in b) == sorted(stream)
            seen += stream
            where = collections.defaultdict(set)
            for k, b in enumerate(out):
                for i in b:
                    where[dataset.paths[i]].add(k)
            split_images += sum(len(ks) > 1 for ks in where.values())
        # every ref once; the repeats only pad the processes' equal shares
        counts = collections.Counter(seen)
        assert set(counts) == set(range(n))
        assert len(seen) - n == -n % world_size
        assert len(set(batch_counts)) == 1  # same number of steps
        # an image is split between batches only where the end of the
        # epoch's packing or a process boundary cuts it
        assert split_images <= 3 * world_size
        orders.append(seen)
    assert orders[0] != orders[1]  # images are shuffled per epoch


def test_images_are_shuffled_not_only_their_refs(monkeypatch):
    dataset = RefsOfImages([3] * 40)
    sampler, _ = build(dataset, 1, 0, 8, monkeypatch)
    first = [dataset.paths[i] for i in sampler][::3]
    assert len(set(first)) == 40  # each image's refs are adjacent
    assert first != sorted(first, key=lambda p: int(p.split('.')[0]))


def test_pack_keeps_runs_whole_where_they_fit():
    runs = [[0, 1, 2], [3, 4, 5], [6, 7], [8], [9, 10, 11, 12, 13, 14, 15,
                                                16, 17, 18]]
    batches = pack([list(r) for r in runs], 4)
    assert batches[0] == [0, 1, 2, 8]  # [3, 4, 5] did not fit, [8] did
    assert [9, 10, 11, 12] in batches  # a long run fills batches alone
    assert all(len(b) == 4 for b in batches[:-1])
    assert sorted(i for b in batches for i in b) == list(range(19))


def test_batch_sampler_needs_the_grouped_sampler():
    with pytest.raises(TypeError, match="sampler=dict.type='ImageGrouped"):
        ImageGroupedBatchSampler(range(10), 4)
