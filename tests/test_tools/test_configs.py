"""Every config parses; its model builds offline from a local CLIP."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from transformers import CLIPConfig, CLIPModel

from mmseg.registry import MODELS
from tests.tiny_models import TINY_CLIP

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', '*.py')))


@pytest.fixture(scope='module')
def local_clip(tmp_path_factory):
    path = tmp_path_factory.mktemp('clip') / 'clip-vit-b16'
    config = dict(TINY_CLIP)
    config['vision_config'] = dict(TINY_CLIP['vision_config'],
                                   num_hidden_layers=12)
    CLIPModel(CLIPConfig(**config)).save_pretrained(path)
    return str(path)


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_parses_and_model_builds(path, local_clip, tmp_path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports['imports'] == ['projects.haris']
    # generalized configs (no-target output) score with gRefCOCO's metric
    # and keep their best checkpoint by one of its keys
    generalized = cfg.model.decode_head.get('no_target', False)
    assert cfg.test_evaluator['type'] == ('GRefSegMetric' if generalized
                                          else 'RefSegMetric')
    assert cfg.default_hooks.checkpoint.save_best == ('gIoU' if generalized
                                                      else 'mIoU')
    assert cfg.test_dataloader.dataset.type
    train = cfg.get('train_dataloader')
    if train and train.dataset.type in ('RefCocoDataset', 'GRefCocoDataset'):
        # the refs of an image share a batch and its vision pass
        assert train.sampler.type == 'ImageGroupedSampler'
        assert train.batch_sampler.type == 'ImageGroupedBatchSampler'
    pretrained = cfg.model.backbone.get('pretrained')
    if pretrained == 'work_dirs/tiny_clip':  # tools/pretrain_clip.py's out
        demo = Config.fromfile(osp.join(ROOT, 'configs', 'haris_synthetic.py'))
        clip = CLIPConfig(**demo.model.backbone.clip_config.to_dict())
        CLIPModel(clip).save_pretrained(tmp_path / 'tiny_clip')
        cfg.model.backbone.pretrained = str(tmp_path / 'tiny_clip')
    elif pretrained:
        assert pretrained == 'openai/clip-vit-base-patch16'
        cfg.model.backbone.pretrained = local_clip
    model = MODELS.build(cfg.model)
    assert model.backbone.out_indices in ((4, 8, 12), (1, 2, 3))


def test_benchmark_configs_point_at_their_files():
    expected = {
        'haris_refcoco.py': 'refcoco/refs(unc).p',
        'haris_refcoco+.py': 'refcoco+/refs(unc).p',
        'haris_refcocog_umd.py': 'refcocog/refs(umd).p',
        'haris_refcocog_google.py': 'refcocog/refs(google).p',
        'haris_phrasecut.py': 'phrasecut/refer_test.json',
        'haris_grefcoco.py': 'grefcoco/grefs(unc).json',
    }
    for name, ann_file in expected.items():
        cfg = Config.fromfile(osp.join(ROOT, 'configs', name))
        assert cfg.test_dataloader.dataset.ann_file == ann_file
        if cfg.get('train_dataloader'):
            assert cfg.train_dataloader.dataset.ann_file == ann_file
            assert cfg.train_dataloader.dataset.split == 'train'
            assert cfg.optim_wrapper.optimizer.lr == 1e-4
            assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
            assert cfg.train_cfg.max_epochs == 50
