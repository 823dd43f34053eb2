"""The ONNX runner answers through the segmentor's own post-processing:
a post-processing option of the decode head set in the config changes the
ONNX answers as it changes PyTorch's."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import save_checkpoint

from projects.haris.apis import RefSegInferencer
from tests.e2e_utils import ROOT
from tests.tiny_models import tiny_model_cfg

pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')
pytest.importorskip('onnxscript')  # torch's ONNX exporter needs it

from tools.deployment.export_onnx import export_onnx  # noqa: E402
from tools.deployment.onnx_inference import \
    OnnxRefSegInferencer  # noqa: E402


@pytest.fixture(scope='module')
def says_target(tmp_path_factory):
    """A tiny model with the no-target output whose head says "there is a
    target" (p 0.0025) for every sentence, as checkpoint and ONNX file."""
    tmp = tmp_path_factory.mktemp('onnx_rule')
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'haris_synthetic.py'))
    cfg.model = tiny_model_cfg()
    cfg.model.decode_head.no_target = True
    torch.manual_seed(3)
    model = RefSegInferencer(cfg, device='cpu').model
    last = model.decode_head.no_target_cls[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(-6.0)
    ckpt = str(tmp / 'm.pth')
    save_checkpoint(model.state_dict(), ckpt)
    merged = RefSegInferencer(cfg, ckpt, device='cpu').model.eval()
    merged.merge_adapters()
    path = str(tmp / 'm.onnx')
    export_onnx(merged, path, (64, 64), text_length=16)
    return cfg, ckpt, path


@pytest.mark.parametrize('empty_mask_is_no_target', [True, False])
def test_runner_follows_the_heads_answer_option(says_target,
                                                empty_mask_is_no_target):
    """Mask threshold 1.1: every mask is empty, so the answers are "no
    target" with the option on and the head's "target" with it off."""
    cfg, ckpt, path = says_target
    cfg = copy.deepcopy(cfg)
    cfg.model.decode_head.update(
        threshold=1.1, empty_mask_is_no_target=empty_mask_is_no_target)
    image = np.random.default_rng(4).integers(0, 255, (40, 70, 3), np.uint8)
    texts = ['the red circle', 'the square on the left']
    expected = RefSegInferencer(cfg, ckpt, device='cpu')(image, texts)
    got = OnnxRefSegInferencer(cfg, path)(image, texts)
    for a, b in zip(expected, got):
        assert a['no_target'] is empty_mask_is_no_target
        assert b['no_target'] is a['no_target']
        assert b['no_target_score'] == pytest.approx(a['no_target_score'],
                                                     abs=1e-4)
        assert not a['mask'].any() and not b['mask'].any()
