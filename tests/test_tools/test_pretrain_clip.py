"""tools/pretrain_clip.py: contrastive pretraining saves a CLIP that HARIS
loads, and never overwrites a model by accident."""
import json
import math
import os.path as osp
import subprocess
import sys

import numpy as np
import torch
from mmengine.config import Config
from transformers import CLIPModel

from mmseg.registry import MODELS
from tools.clip_pretraining.caption_retrieval import tokenize
from tools.clip_pretraining.synthetic_captions import (all_captions,
                                                       held_out_captions)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def pretrain(out, *extra):
    return subprocess.run(
        [sys.executable, 'tools/pretrain_clip.py',
         'configs/haris_synthetic.py', '--out', str(out), '--steps', '40',
         '--batch-size', '32', '--eval-images', '96', *extra],
        cwd=ROOT, capture_output=True, text=True)


def test_pretrain_saves_a_model_haris_loads(tmp_path):
    out = tmp_path / 'tiny_clip'
    result = pretrain(out)
    assert result.returncode == 0, result.stderr[-2000:]
    log = json.load(open(out / 'pretrain_log.json'))
    assert log['steps'] == 40
    assert log['final_loss'] < math.log(32)  # below chance: it learned
    clip = CLIPModel.from_pretrained(out)
    # the logged accuracy is the saved model's, recounted here by hand on
    # the same 96 held-out images (caption i % 96 each) with the config's
    # normalisation, cosine similarity and top-1 against all 96 captions
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'haris_synthetic.py'))
    pre = cfg.model.data_preprocessor
    images, labels = held_out_captions(96, 1000, 96)
    assert labels == [i % 96 for i in range(96)]
    rgb = torch.from_numpy(np.stack(images)[..., ::-1].copy()).float()
    pixels = (rgb - torch.tensor(pre.mean)) / torch.tensor(pre.std)
    text = tokenize(all_captions(), cfg.get('context_length', 16))
    with torch.no_grad():
        img = clip.eval().get_image_features(
            pixel_values=pixels.permute(0, 3, 1, 2))
        txt = clip.get_text_features(**text)
    cos = torch.nn.functional.normalize(img, dim=1) @ \
        torch.nn.functional.normalize(txt, dim=1).T  # (96, 96)
    hits = sum(int(cos[i].argmax()) == labels[i] for i in range(96))
    assert log['retrieval_accuracy'] == round(100 * hits / 96, 2)
    assert clip.config.vision_config.image_size == 96
    backbone = MODELS.build(dict(type='HFCLIPBackbone', pretrained=str(out),
                                 out_indices=(1, 2, 3), peft_cfg=None))
    for name, p in clip.state_dict().items():
        assert torch.equal(backbone.clip.state_dict()[name], p), name

    weights = (out / 'model.safetensors').read_bytes()
    again = pretrain(out)
    assert again.returncode != 0
    assert 'already holds a model' in again.stderr + again.stdout
    assert (out / 'model.safetensors').read_bytes() == weights
