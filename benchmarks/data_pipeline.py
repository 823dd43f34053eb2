"""Training-pipeline throughput on one core: 640x480 JPEG, polygon mask,
10-word sentence, the RefCOCO train pipeline (load, decode mask, draw a
sentence, resize to 416, tokenise, pack).
Usage: python benchmarks/data_pipeline.py [--samples 300]
"""
import argparse
import json
import os.path as osp
import tempfile
import time

import cv2
from mmengine.config import Config

from common import ROOT, np, torch, write_result
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--samples', type=int, default=300)
    args = parser.parse_args()
    init_default_scope('mmseg')
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'haris_refcoco.py'))
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        img = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
        img = cv2.GaussianBlur(img, (9, 9), 3)  # photo-like JPEG size
        cv2.imwrite(osp.join(tmp, 'img.jpg'), img)
        poly = [100, 100, 300, 80, 420, 200, 380, 400, 150, 380, 90, 250]
        line = dict(image='img.jpg', mask=dict(polygons=[poly]),
                    sentences=['the man in the red shirt standing on '
                               'the left side'])
        with open(osp.join(tmp, 'refs.jsonl'), 'w') as f:
            for _ in range(args.samples):
                f.write(json.dumps(line) + '\n')
        ds = DATASETS.build(dict(
            type='GenericReferringDataset', data_root=tmp,
            ann_file='refs.jsonl', pipeline=cfg.train_pipeline))
        ds[0]
        start = time.perf_counter()
        for i in range(len(ds)):
            ds[i]
        elapsed = time.perf_counter() - start
    write_result('data_pipeline', dict(
        samples=args.samples, seconds=round(elapsed, 3),
        samples_per_second=round(args.samples / elapsed, 1), target=80))


if __name__ == '__main__':
    main()
