"""A tiny trained-looking model saved as a config and a trainable-only
checkpoint (frozen tiny CLIP from a saved folder, adapters, neck and head
random), and the model folder save_pretrained.py writes from them."""
import os.path as osp
from types import SimpleNamespace

import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import save_checkpoint
from transformers import CLIPConfig, CLIPModel

from tests.e2e_utils import ROOT
from tests.tiny_models import TINY_CLIP, tiny_model_cfg

TEXTS = ['the red circle', 'the blue square on the left']


def save_clip(path, seed: int = 0) -> str:
    torch.manual_seed(seed)
    CLIPModel(CLIPConfig(**TINY_CLIP)).save_pretrained(path)
    return str(path)


def load_tool(path: str):
    """A tool's module (its ``main`` takes argv)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'haris_' + osp.basename(path)[:-3], osp.join(ROOT, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_model_folder(tmp) -> dict:
    """Config, checkpoint (as TrainableCheckpointHook writes it: frozen
    CLIP weights left out, their SHA-256 in its meta) and the model folder
    written by ``tools/model_converters/save_pretrained.py`` from them.

    The adapters (LoRA's B too), neck and head are drawn from N(0, 0.3):
    the masks on ``image`` are then neither empty nor full.
    """
    from projects.haris.apis import RefSegInferencer
    from projects.haris.engine import TrainableCheckpointHook
    clip = save_clip(tmp / 'clip')
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'haris_synthetic.py'))
    cfg.model = tiny_model_cfg()
    cfg.model.backbone.update(pretrained=clip, clip_config=None)
    config = str(tmp / 'tiny.py')
    cfg.dump(config)
    model = RefSegInferencer(cfg, device='cpu', merge_adapters=False).model
    torch.manual_seed(1)
    with torch.no_grad():
        for param in model.parameters():
            if param.requires_grad:
                param.normal_(0, 0.3)
    checkpoint = dict(meta=dict(), state_dict=model.state_dict())
    TrainableCheckpointHook().before_save_checkpoint(
        SimpleNamespace(cfg=cfg, model=model), checkpoint)
    ckpt = str(tmp / 'tiny.pth')
    save_checkpoint(checkpoint, ckpt)
    folder = str(tmp / 'folder')
    load_tool('tools/model_converters/save_pretrained.py').main(
        [config, ckpt, folder])
    image = np.random.default_rng(0).integers(0, 255, (48, 64, 3),
                                              np.uint8)
    return dict(config=config, checkpoint=ckpt, folder=folder, clip=clip,
                cfg=cfg, image=image,
                frozen=checkpoint['meta']['frozen_weights'])


def nontrivial(results) -> bool:
    """Every mask is neither empty nor full."""
    return all(0 < r['mask'].sum() < r['mask'].size for r in results)
