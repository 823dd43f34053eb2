"""Helpers shared by the benchmarks: paper-scale model offline, timing."""
import json
import os
import os.path as osp
import statistics
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
RESULTS = osp.join(ROOT, 'benchmarks', 'results')

import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

import projects.haris  # noqa: E402,F401
from mmseg.registry import MODELS  # noqa: E402
from projects.haris.models.backbones import ARCHITECTURES  # noqa: E402


def paper_model(size=416):
    """HARIS of configs/haris_refcoco.py with a randomly initialised
    CLIP ViT-B/16 (same architecture, no download)."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'haris_refcoco.py'))
    backbone = cfg.model.backbone
    backbone.clip_config = ARCHITECTURES[backbone.pretrained]
    backbone.pretrained = None
    cfg.model.data_preprocessor.size = (size, size)
    return MODELS.build(cfg.model)


def text_batch(batch, length=22, words=10):
    ids = torch.zeros(batch, length, dtype=torch.long)
    mask = torch.zeros(batch, length, dtype=torch.bool)
    n = min(words + 2, length)
    ids[:, 0] = 49406
    ids[:, 1:n - 1] = torch.randint(300, 40000, (batch, n - 2))
    ids[:, n - 1] = 49407
    mask[:, :n] = True
    return ids, mask


def median_time(fn, repeats=5, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def write_result(name, data):
    os.makedirs(RESULTS, exist_ok=True)
    data = dict(data, torch=torch.__version__, threads=torch.get_num_threads(),
                date=time.strftime('%Y-%m-%d'))
    path = osp.join(RESULTS, f'{name}.json')
    with open(path + '.tmp', 'w') as f:
        json.dump(data, f, indent=2)
    os.replace(path + '.tmp', path)
    print(json.dumps(data, indent=2))
    return path


__all__ = ['paper_model', 'text_batch', 'median_time', 'write_result', 'np',
           'torch', 'ROOT', 'RESULTS']
