"""Training time per ref with an image's refs in one batch (each image
encoded once) against one vision pass per ref (today's per-ref shuffling).

Paper-scale model (random CLIP ViT-B/16 + text, D=256, 416x416, LoRA),
batch 8, forward + backward + AdamW step through ``ReferringSegmentor.loss``.

Batches: RefCOCO train's refs per image (42,404 refs on 16,994 images; the
per-image counts of ``tools/dataset_converters/make_refcoco_sized.py``, or
of a real ``refs(unc).p`` with ``--refs``) packed by the training configs'
``ImageGroupedSampler`` + ``ImageGroupedBatchSampler``; the first
``--batches`` batches of an epoch are timed. Refs of one image get equal
input tensors, as the pipeline gives them.

- grouped: the model encodes each distinct image of the batch once.
- per ref: the same batch with ``train_cfg.encode_each_image_once=False``,
  which is the cost of today's batches (8 refs of 8 different images: with
  per-ref shuffling over 16,994 images, two refs of one image almost never
  share a batch).

Both arms see the same batches and refs, so time per ref is in the ratio of
step times. The arms alternate on each batch after a warm-up of each; the
ratio is the median of the per-batch ratios. Steps are timed in process
CPU time (``time.process_time``), which other jobs on a shared machine
lengthen far less than wall time (run it with OMP_NUM_THREADS=1).
Usage: OMP_NUM_THREADS=1 python benchmarks/grouped_training.py
       [--batches 3] [--refs FILE]
"""
import argparse
import collections
import importlib.util
import os.path as osp
import pickle
import statistics
import time

from common import ROOT, paper_model, text_batch, torch, write_result
from mmengine.structures import PixelData

from mmseg.structures import SegDataSample
from projects.haris.datasets.image_grouped_batch_sampler import \
    ImageGroupedBatchSampler
from projects.haris.datasets.image_grouped_sampler import ImageGroupedSampler

REFCOCO_TRAIN = dict(num_images=16994, num_refs=42404)


def refcoco_counts(refs_file=None):
    """Refs per image of RefCOCO train: from a refer ``refs(unc).p``, or
    drawn by the RefCOCO-sized index generator."""
    if refs_file:
        with open(refs_file, 'rb') as f:
            refs = pickle.load(f)
        return list(collections.Counter(
            r['image_id'] for r in refs if r['split'] == 'train').values())
    path = osp.join(ROOT, 'tools', 'dataset_converters',
                    'make_refcoco_sized.py')
    spec = importlib.util.spec_from_file_location('make_refcoco_sized', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.refs_per_image_counts(seed=0, **REFCOCO_TRAIN)


class RefsOfImages:
    """Sample i is a ref of image ``paths[i]`` (what the samplers read)."""

    def __init__(self, counts):
        self.paths = [f'{k}.jpg' for k, n in enumerate(counts)
                      for _ in range(n)]

    def __len__(self):
        return len(self.paths)

    def get_data_info(self, i):
        return dict(img_path=self.paths[i])


def grouped_batches(counts, batch_size, num):
    dataset = RefsOfImages(counts)
    sampler = ImageGroupedSampler(dataset, shuffle=True, seed=0)
    batches = list(ImageGroupedBatchSampler(sampler, batch_size))
    images = [len({dataset.paths[i] for i in b}) for b in batches]
    return ([[dataset.paths[i] for i in b] for b in batches[:num]],
            statistics.mean(images))


def make_batch(paths, size=416):
    """Inputs and samples as the data preprocessor gives them; refs of
    one image share its pixels."""
    pixels = {p: torch.randn(3, size, size) for p in dict.fromkeys(paths)}
    inputs = torch.stack([pixels[p] for p in paths])
    ids, mask = text_batch(len(paths))
    samples = []
    for k, path in enumerate(paths):
        s = SegDataSample(metainfo=dict(
            img_path=path, img_shape=(size, size), ori_shape=(size, size),
            pad_shape=(size, size), token_ids=ids[k].numpy(),
            token_mask=mask[k].numpy()))
        s.gt_sem_seg = PixelData(
            data=torch.randint(0, 2, (1, size, size)))
        samples.append(s)
    return inputs, samples


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--batches', type=int, default=3)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--refs', help='a real refer refs(unc).p')
    parser.add_argument('--name', default='grouped_training')
    args = parser.parse_args()
    counts = refcoco_counts(args.refs)
    paths, mean_images = grouped_batches(counts, args.batch_size,
                                         args.batches)
    torch.manual_seed(0)
    model = paper_model().train()
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=0.0)  # timing only

    def step(batch, once):
        model.train_cfg['encode_each_image_once'] = once
        start = time.process_time()
        losses = model.loss(*batch)
        optim.zero_grad()
        sum(v for k, v in losses.items() if 'loss' in k).backward()
        optim.step()
        return time.process_time() - start

    step(make_batch(paths[0]), False)  # warm-up
    step(make_batch(paths[0]), True)
    rows = []
    for k, batch_paths in enumerate(paths):
        batch = make_batch(batch_paths)
        per_ref = step(batch, False)
        grouped = step(batch, True)
        rows.append(dict(images=len(set(batch_paths)),
                         per_ref_step_cpu_s=round(per_ref, 2),
                         grouped_step_cpu_s=round(grouped, 2),
                         ratio=round(grouped / per_ref, 3)))
        print(rows[-1], flush=True)
    write_result(args.name, dict(
        model='CLIP ViT-B/16 + text (random), D=256, 416x416, LoRA r=8',
        batch_size=args.batch_size,
        refs_per_image=dict(
            source=args.refs or 'make_refcoco_sized.refs_per_image_counts',
            images=len(counts), refs=sum(counts),
            mean=round(sum(counts) / len(counts), 3)),
        mean_images_per_batch_epoch=round(mean_images, 3),
        rows=rows,
        time_per_ref_grouped_over_per_ref=statistics.median(
            r['ratio'] for r in rows)))


if __name__ == '__main__':
    main()
