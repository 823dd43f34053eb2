"""Checkpoints keep loading: the default neck and decode head have the
parameter names and shapes listed in
``haris_head_state_dict_keys.txt``, a list taken from the
model before its shared layers moved to ``projects.haris.models.utils``."""
import os.path as osp

from mmengine.config import Config

from mmseg.registry import MODELS

KEYS = osp.join(osp.dirname(osp.abspath(__file__)),
                'haris_head_state_dict_keys.txt')


def read_keys():
    with open(KEYS) as f:
        return [line.rstrip('\n') for line in f
                if line.strip() and not line.startswith('#')]


def test_neck_and_head_state_dict_keys_unchanged():
    cfg = Config.fromfile('configs/_base_/models/haris_clip-vit-b16.py')
    found = []
    for part in ('neck', 'decode_head'):
        module = MODELS.build(cfg.model[part])
        found += [f'{part}.{k} {tuple(v.shape)}'
                  for k, v in module.state_dict().items()]
    expected = read_keys()
    assert len(expected) == 174
    assert found == expected
