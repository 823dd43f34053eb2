"""Checkpoints that hold only what trains, used beyond the run that wrote
them: ``load_from`` into a config that trains more (non-strict, as in
mmengine), and loading in another process whose random seed differs,
with ``out_indices`` that leave the last vision layer unused."""
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config
from transformers import CLIPConfig, CLIPModel

from mmseg.apis import init_model
from projects.haris.apis import RefSegInferencer
from projects.haris.engine import TrainableCheckpointHook
from projects.haris.utils import load_local_checkpoint, load_model_checkpoint
from tests.test_tools.test_frozen_lora_e2e import (CONFIG, non_adapter_clip,
                                                   train, write_config)

GENERALIZED = ['model.decode_head.no_target=True',
               'train_dataloader.dataset.generalized=True']


@pytest.fixture(scope='module')
def clip_dir(tmp_path_factory):
    """A tiny CLIP of the demo's shape (3 vision layers) saved as a user
    would download it."""
    tmp = tmp_path_factory.mktemp('portable')
    torch.manual_seed(0)
    CLIPModel(CLIPConfig(**Config.fromfile(CONFIG).tiny_clip)) \
        .save_pretrained(tmp / 'clip')
    return tmp / 'clip'


@pytest.fixture(scope='module')
def trained(clip_dir):
    """2 iterations of the frozen+LoRA demo config on that CLIP."""
    tmp = clip_dir.parent
    config = write_config(tmp, 'plain', clip_dir)
    proc = train(config, str(tmp / 'work'), str(tmp / 'data'), iters=2)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return config, str(tmp / 'work' / 'iter_2.pth')


def test_load_from_into_a_config_that_trains_more(trained):
    """A RefCOCO-style checkpoint into a gRefCOCO-style config (the
    no-target head added): the frozen CLIP is restored after its
    fingerprint check, every matching weight is loaded, the new head's
    keys are logged as missing, and training runs. With lr 0 nothing
    moves, so the new run's checkpoint shows what was loaded."""
    config, ckpt = trained
    tmp = osp.dirname(osp.dirname(ckpt))
    work = osp.join(tmp, 'generalized')
    proc = train(config, work, osp.join(tmp, 'data'), iters=2, options=[
        f'load_from={ckpt}', 'optim_wrapper.optimizer.lr=0.0'
    ] + GENERALIZED)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert 'frozen pretrained tensors restored from' in log
    assert 'fingerprint matches' in log
    assert 'missing keys in source state_dict: decode_head.no_target_cls' \
        in log
    assert 'backbone.clip' not in log.split('missing keys')[1].split(
        '\n')[0]  # the frozen CLIP was restored, not reported missing
    before = load_local_checkpoint(ckpt)
    after = load_local_checkpoint(osp.join(work, 'iter_2.pth'))
    new = set(after['state_dict']) - set(before['state_dict'])
    assert new and all(k.startswith('decode_head.no_target_cls.')
                       for k in new)
    for key, value in before['state_dict'].items():
        assert torch.equal(after['state_dict'][key], value), key
    assert after['meta']['frozen_weights'] == \
        before['meta']['frozen_weights']


def generalized_model(config):
    cfg = Config.fromfile(config)
    cfg.model.decode_head.no_target = True
    return cfg, init_model(cfg, None, device='cpu')


def test_resume_tools_test_and_inferencer_stay_strict(trained):
    config, ckpt = trained
    cfg, model = generalized_model(config)
    with pytest.raises(ValueError, match='written for another config'):
        load_model_checkpoint(model, ckpt)  # tools/test.py, inferencer
    with pytest.raises(ValueError, match='written for another config'):
        RefSegInferencer(cfg, ckpt, device='cpu')
    cfg.resume = True
    runner = SimpleNamespace(cfg=cfg, model=model)
    with pytest.raises(ValueError, match='written for another config'):
        TrainableCheckpointHook().after_load_checkpoint(
            runner, load_local_checkpoint(ckpt))


def test_load_from_refuses_other_frozen_weights(trained, clip_dir):
    """Non-strict loading still checks the frozen weights' fingerprint."""
    config, ckpt = trained
    torch.manual_seed(1)
    other = clip_dir.parent / 'other_clip'
    CLIPModel(CLIPConfig(**Config.fromfile(CONFIG).tiny_clip)) \
        .save_pretrained(other)
    cfg = Config.fromfile(config)
    cfg.model.backbone.pretrained = str(other)
    runner = SimpleNamespace(cfg=cfg, model=init_model(cfg, None, 'cpu'))
    with pytest.raises(ValueError, match='frozen encoder weights came from'):
        TrainableCheckpointHook().after_load_checkpoint(
            runner, load_local_checkpoint(ckpt))


def test_unused_last_layer_loads_in_another_process_and_seed(clip_dir):
    """out_indices (1, 2, 2) leave the third vision layer unused. The
    checkpoint written by tools/train.py loads in this process under two
    other seeds, and both give the same probabilities: nothing random is
    left in the model once the checkpoint is loaded."""
    tmp = clip_dir.parent
    config = write_config(tmp, 'shallow', clip_dir)
    work = str(tmp / 'shallow_work')
    proc = train(config, work, str(tmp / 'data'), iters=2,
                 options=['model.backbone.out_indices=[1,2,2]'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = osp.join(work, 'iter_2.pth')
    state = load_local_checkpoint(ckpt)['state_dict']
    assert not non_adapter_clip(state)  # trainable only
    assert not [k for k in state if 'vision_model.encoder.layers.2.' in k]
    cfg = Config.fromfile(config)
    cfg.model.backbone.out_indices = [1, 2, 2]
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (96, 96, 3), np.uint8)
    texts = ['the red circle', 'the small blue square on the left']
    probs = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        inferencer = RefSegInferencer(cfg, ckpt, device='cpu',
                                      merge_adapters=False)
        layer = inferencer.model.backbone.clip.vision_model.encoder.layers
        assert not [n for n, _ in layer[2].named_parameters()
                    if 'lora_' in n]
        probs.append([r['prob'] for r in inferencer(image, texts)])
    for a, b in zip(*probs):
        assert a.std() > 0  # a prediction worth comparing
        assert np.array_equal(a, b)
    assert not np.array_equal(*probs[0])  # the sentence matters
