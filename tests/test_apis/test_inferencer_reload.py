"""The inferencer loads a second checkpoint after predicting with the
first (its adapters then merged into the pretrained weights) and predicts
as a new inferencer on the second checkpoint does."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import save_checkpoint
from transformers import CLIPConfig, CLIPModel

from projects.haris.apis import RefSegInferencer
from projects.haris.engine import TrainableCheckpointHook
from tests.tiny_models import TINY_CLIP, tiny_model_cfg

TEXTS = ['the red circle', 'the blue square on the left']


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """A config on a saved tiny CLIP, and two checkpoints holding only
    what trains (as TrainableCheckpointHook writes them) whose adapters,
    neck and head differ."""
    tmp = tmp_path_factory.mktemp('reload')
    torch.manual_seed(0)
    CLIPModel(CLIPConfig(**TINY_CLIP)).save_pretrained(tmp / 'clip')
    cfg = Config.fromfile('configs/haris_synthetic.py')
    cfg.model = tiny_model_cfg()
    cfg.model.backbone.update(pretrained=str(tmp / 'clip'), clip_config=None)
    model = RefSegInferencer(cfg, device='cpu', merge_adapters=False).model
    paths = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        with torch.no_grad():
            for param in model.parameters():
                if param.requires_grad:  # adapters (lora_B too), neck, head
                    param.normal_(0, 0.3)
        checkpoint = dict(meta=dict(), state_dict=model.state_dict())
        TrainableCheckpointHook().before_save_checkpoint(
            SimpleNamespace(cfg=cfg, model=model), checkpoint)
        assert checkpoint['meta']['frozen_weights']['num_tensors'] > 0
        paths.append(str(tmp / f'ckpt{seed}.pth'))
        save_checkpoint(checkpoint, paths[-1])
    image = np.random.default_rng(0).integers(0, 255, (48, 64, 3), np.uint8)
    return cfg, paths, image


def test_second_checkpoint_after_a_merged_prediction(setup):
    cfg, (first, second), image = setup
    inferencer = RefSegInferencer(cfg, first, device='cpu')
    before = inferencer(image, TEXTS)
    assert inferencer.model.backbone.adapters_merged
    inferencer.load_weights(second)
    after = inferencer(image, TEXTS)
    expected = RefSegInferencer(cfg, second, device='cpu')(image, TEXTS)
    own_first = RefSegInferencer(cfg, first, device='cpu')(image, TEXTS)
    for b, a, e, f in zip(before, after, expected, own_first):
        assert 0 < e['mask'].sum() < e['mask'].size  # worth comparing
        assert np.array_equal(a['mask'], e['mask'])
        assert np.array_equal(a['prob'], e['prob'])
        assert np.array_equal(b['prob'], f['prob'])  # first one as given
        assert not np.array_equal(b['mask'], a['mask'])  # they differ
    # and back: the first checkpoint again gives its own masks
    inferencer.load_weights(first)
    for a, f in zip(inferencer(image, TEXTS), own_first):
        assert np.array_equal(a['prob'], f['prob'])
