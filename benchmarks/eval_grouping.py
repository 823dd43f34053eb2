"""Evaluation time with each image encoded once / once per sentence.

A RefCOCO-val-shaped workload (about 7 sentences per image: RefCOCO val
has 10,834 sentences on 1,500 images) in the real refer-toolkit files,
read by ``RefCocoDataset`` in test mode through the config's val
dataloader (batches of 8), then the paper-scale model's ``test_step`` (CLIP
ViT-B/16 + text, random weights, 416x416) on those batches, as
``tools/test.py`` runs it. Three arms, timed back to back in each round:

- ``per_sentence``: the vision tower once per sentence, adapters unmerged
  (the evaluation path before sharing);
- ``grouped``: once per distinct image of a batch, adapters unmerged;
- ``grouped_merged``: once per distinct image, adapters merged.

Ratios are medians of the per-round ratios. The arms' masks and
probabilities are compared as well (random weights put many probabilities
near the 0.5 threshold, so rounding can flip a few pixels).
Usage: python benchmarks/eval_grouping.py [--images 4] [--repeats 2]
"""
import argparse
import json
import os
import os.path as osp
import pickle
import statistics
import tempfile
import time

import cv2
from mmengine.config import Config
from mmengine.runner import Runner

from common import ROOT, np, paper_model, torch, write_result

# (height, width) of COCO-like photos, cycled over the images
SIZES = [(480, 640), (640, 480), (427, 640), (375, 500)]
# sentences per ref of each image: 3 refs, 7 sentences
REF_SENTENCES = (3, 2, 2)
WORDS = ('man woman dog cat car bus left right red blue white black '
         'small big front back middle standing sitting near the on in '
         'with shirt table chair umbrella').split()


def write_refcoco(root, num_images, seed=0):
    """Images, instances.json and refs(unc).p of a val split; refs of
    different images alternate in the file, as nothing promises that the
    refs of one image are consecutive."""
    rng = np.random.default_rng(seed)
    images, anns, refs = [], [], []
    for i in range(num_images):
        h, w = SIZES[i % len(SIZES)]
        img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        cv2.imwrite(osp.join(root, 'coco', f'{i}.jpg'),
                    cv2.GaussianBlur(img, (9, 9), 3))
        images.append(dict(id=i, file_name=f'{i}.jpg', height=h, width=w))
    for r, n in enumerate(REF_SENTENCES):
        for i, image in enumerate(images):
            x0, y0 = (int(v) for v in rng.integers(0, 200, 2))
            ann_id = len(anns)
            anns.append(dict(id=ann_id, image_id=i, segmentation=[[
                x0, y0, x0 + 150, y0, x0 + 150, y0 + 120, x0, y0 + 120]]))
            sentences = [dict(sent=' '.join(rng.choice(
                WORDS, int(rng.integers(3, 11))))) for _ in range(n)]
            refs.append(dict(ref_id=len(refs), image_id=i, ann_id=ann_id,
                             split='val', sentences=sentences))
    with open(osp.join(root, 'refs', 'instances.json'), 'w') as f:
        json.dump(dict(images=images, annotations=anns), f)
    with open(osp.join(root, 'refs', 'refs(unc).p'), 'wb') as f:
        pickle.dump(refs, f)


def val_batches(root):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'haris_refcoco.py'))
    loader = cfg.val_dataloader
    loader.update(num_workers=0, persistent_workers=False)
    # not under refcoco/: this is not the published split
    loader.dataset.update(data_root=root, ann_file='refs/refs(unc).p',
                          instances_file='refs/instances.json',
                          data_prefix=dict(img_path='coco'))
    return list(Runner.build_dataloader(loader))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--images', type=int, default=4)
    parser.add_argument('--repeats', type=int, default=2)
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error('--repeats must be at least 1 (round 0 only warms up)')
    model = paper_model().eval()  # also sets the mmseg registry scope
    with tempfile.TemporaryDirectory() as tmp:
        for folder in ('coco', 'refs'):
            os.makedirs(osp.join(tmp, folder))
        write_refcoco(tmp, args.images)
        batches = val_batches(tmp)
    with torch.no_grad():  # adapters as if trained (LoRA B starts at 0)
        for name, p in model.named_parameters():
            if 'lora_B' in name:
                p.normal_(0, 0.01)
    runs = []
    model.backbone.clip.vision_model.embeddings.register_forward_hook(
        lambda m, a, out: runs.append(out.shape[0]))
    arms = dict(per_sentence=(False, False), grouped=(True, False),
                grouped_merged=(True, True))

    def run(arm):
        once, merged = arms[arm]
        model.test_cfg['encode_each_image_once'] = once
        if merged:
            model.backbone.merge_adapters()
        else:
            model.backbone.unmerge_adapters()
        runs.clear()
        start = time.perf_counter()
        with torch.no_grad():
            outs = [o for b in batches for o in model.test_step(b)]
        return time.perf_counter() - start, outs, sum(runs)

    rounds, images_encoded, check = [], {}, {}
    for r in range(args.repeats + 1):  # round 0 warms up
        times = {}
        for arm in arms:
            times[arm], outs, images_encoded[arm] = run(arm)
            if r == 0:
                check[arm] = outs
        print(f'round {r}: ' + ', '.join(
            f'{arm} {t:.1f} s' for arm, t in times.items()), flush=True)
        if r:
            rounds.append(times)
    ref = check['per_sentence']
    agree = {}
    for arm in ('grouped', 'grouped_merged'):
        agree[arm] = dict(
            mask_pixels_differing=sum(
                (a.pred_sem_seg.data != b.pred_sem_seg.data).sum().item()
                for a, b in zip(ref, check[arm])),
            mask_pixels=sum(a.pred_sem_seg.data.numel() for a in ref),
            max_prob_diff=max(
                (a.seg_logits.data - b.seg_logits.data).abs().max().item()
                for a, b in zip(ref, check[arm])))
    sentences = len(ref)
    write_result('eval_grouping', dict(
        images=args.images, sentences=sentences,
        batch_size=len(batches[0]['inputs']), batches=len(batches),
        distinct_images_per_batch=[
            len({s.img_path for s in b['data_samples']}) for b in batches],
        images_encoded=images_encoded,
        seconds={arm: round(statistics.median(t[arm] for t in rounds), 3)
                 for arm in arms},
        ratio_grouped=round(statistics.median(
            t['grouped'] / t['per_sentence'] for t in rounds), 4),
        ratio_grouped_merged=round(statistics.median(
            t['grouped_merged'] / t['per_sentence'] for t in rounds), 4),
        target_ratio=0.35, rounds=len(rounds), agreement=agree))


if __name__ == '__main__':
    main()
