"""A tiny model for the web page tests whose masks are neither empty nor
full, saved as a config and a checkpoint."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import save_checkpoint

from tests.e2e_utils import ROOT
from tests.tiny_models import tiny_model_cfg

EXAMPLES_DIR = osp.join(ROOT, 'demo', 'examples')
# the page's threshold slider steps by 0.05: the model's own threshold is
# one of its values, so the page and the inferencer threshold alike
THRESHOLDS = np.round(np.arange(0.05, 0.951, 0.05), 2)


@pytest.fixture(scope='session')
def page_model(tmp_path_factory):
    """Config and checkpoint of a tiny model with non-zero LoRA adapters
    (so merging them changes the weights) and a mask threshold at which
    its masks on the shipped scenes cover part of the image.

    A randomly initialised head gives probabilities in a narrow band, so
    the config's 0.5 would give empty or full masks; the threshold is the
    slider value nearest the median probability on the first scene.

    Returns:
        dict: ``config`` and ``checkpoint`` paths, ``cfg`` and
        ``threshold``.
    """
    from projects.haris.apis import RefSegInferencer
    tmp = tmp_path_factory.mktemp('page_model')
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'haris_synthetic.py'))
    cfg.model = tiny_model_cfg()
    torch.manual_seed(3)
    model = RefSegInferencer(cfg, device='cpu', merge_adapters=False).model
    with torch.no_grad():
        for name, param in model.named_parameters():
            if 'lora_B' in name:
                param.normal_(0, 0.2)
    checkpoint = str(tmp / 'page.pth')
    save_checkpoint(model.state_dict(), checkpoint)
    probe = RefSegInferencer(cfg, checkpoint, device='cpu')
    probs = [r['prob'] for r in probe(
        osp.join(EXAMPLES_DIR, 'shapes_1.png'),
        ['the yellow triangle', 'the red circle', 'the green square'])]
    median = float(np.median(np.stack(probs)))
    threshold = float(THRESHOLDS[np.abs(THRESHOLDS - median).argmin()])
    cfg.model.decode_head.threshold = threshold
    config = str(tmp / 'page.py')
    cfg.dump(config)
    return dict(config=config, checkpoint=checkpoint, cfg=cfg,
                threshold=threshold)


def nontrivial(masks) -> bool:
    """At least one mask is neither empty nor full."""
    return any(0 < m.sum() < m.size for m in masks)
