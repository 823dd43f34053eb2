"""A model with the no-target output says so in the inferencer, the
overlay, the image demo and the test-time visualiser."""
import subprocess
import sys

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import save_checkpoint

from projects.haris.apis import RefSegInferencer
from projects.haris.apis.inferencer import answer
from tests.tiny_models import tiny_model_cfg


def generalized_inferencer(bias):
    """A tiny generalized model whose no-target probability is
    sigmoid(bias) for every sentence."""
    cfg = Config.fromfile('configs/haris_synthetic.py')
    cfg.model = tiny_model_cfg()
    cfg.model.decode_head.no_target = True
    cfg.model.decode_head.threshold = 0.0  # masks would cover everything
    inferencer = RefSegInferencer(cfg, checkpoint=None, device='cpu')
    last = inferencer.model.decode_head.no_target_cls[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(bias)
    return cfg, inferencer


def test_no_target_result_overlay_and_words():
    img = np.random.default_rng(0).integers(0, 255, (40, 60, 3), np.uint8)
    for bias, expect in ((5.0, True), (-5.0, False)):
        _, inferencer = generalized_inferencer(bias)
        result = inferencer(img, 'the purple triangle')[0]
        assert result['no_target'] is expect
        assert abs(result['no_target_score'] - 1 / (1 + np.exp(-bias))) < 1e-6
        assert bool(result['mask'].any()) is not expect
        drawn = inferencer.overlay(img, result)
        # the picture under the caption is the image, untouched, when the
        # answer is no target; tinted otherwise
        picture = drawn[-40:]
        assert np.array_equal(picture, img) is expect
    assert answer(dict(no_target=True, no_target_score=0.93)) == \
        'no target (p 0.93)'
    assert answer(dict(no_target=False, score=0.5)) == '0.50'
    # a model without the output: no answer of that kind
    cfg = Config.fromfile('configs/haris_synthetic.py')
    cfg.model = tiny_model_cfg()
    plain = RefSegInferencer(cfg, checkpoint=None, device='cpu')
    result = plain(img, 'the thing')[0]
    assert result['no_target'] is False and result['no_target_score'] is None


def test_image_demo_prints_no_target(tmp_path):
    cfg, inferencer = generalized_inferencer(5.0)
    cfg.dump(str(tmp_path / 'tiny.py'))
    save_checkpoint(inferencer.model.state_dict(), str(tmp_path / 'm.pth'))
    cv2.imwrite(str(tmp_path / 'img.png'), np.zeros((20, 30, 3), np.uint8))
    proc = subprocess.run(
        [sys.executable, 'demo/image_demo.py', str(tmp_path / 'img.png'),
         'the purple triangle', '--config', str(tmp_path / 'tiny.py'),
         '--checkpoint', str(tmp_path / 'm.pth'), '--out',
         str(tmp_path / 'o.png')], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '"the purple triangle" no target (probability 0.993)' in \
        proc.stdout
    assert cv2.imread(str(tmp_path / 'o.png')) is not None


def test_visualiser_caption_says_no_target(tmp_path):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    from projects.haris.visualization import ReferringVisualizer
    vis = ReferringVisualizer(
        name='no_target_caption', save_dir=str(tmp_path),
        vis_backends=[dict(type='LocalVisBackend')])
    captions = {}
    vis.add_image = lambda name, image, step=0: captions.update(
        {name: vis._caption})
    for ref_id, (gt, pred) in enumerate(((True, True), (False, True),
                                         (False, False))):
        sample = SegDataSample(metainfo=dict(text='the purple triangle',
                                             no_target=gt, ref_id=ref_id))
        sample.gt_sem_seg = PixelData(data=torch.zeros(1, 8, 8))
        sample.pred_sem_seg = PixelData(data=torch.zeros(1, 8, 8))
        sample.set_field(pred, 'pred_no_target')
        vis.add_datasample('img.png', np.zeros((8, 8, 3), np.uint8), sample)
    assert list(captions.values()) == [
        'the purple triangle  [ground truth: no target; prediction: no '
        'target]', 'the purple triangle  [prediction: no target]',
        'the purple triangle'
    ]
