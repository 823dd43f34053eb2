"""Leave frozen pretrained encoder weights out of checkpoints, and put them
back from the pretrained encoders when a checkpoint is loaded.

A frozen CLIP ViT-B/16 holds ~150M parameters that never change in
training; they already live in the ``pretrained`` folder (or hub id) the
config names. A checkpoint then needs only what trains (adapters, neck,
head) plus optimizer and runner state. Its ``meta['frozen_weights']``
records which weights were left out and a SHA-256 fingerprint of them, so
loading it on other base weights fails loudly instead of silently.
"""
import hashlib
from typing import Dict, List, Optional

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

META_KEY = 'frozen_weights'


def pretrained_prefixes(backbone_cfg: Optional[dict]) -> tuple:
    """State-dict prefixes whose weights are reloaded from files at build
    time: CLIP from ``pretrained``, an mmpretrain vision encoder from its
    ``Pretrained`` init_cfg. Randomly built encoders (``clip_config``)
    have no such source."""
    cfg = backbone_cfg or {}
    prefixes = []
    if cfg.get('pretrained'):
        prefixes.append('backbone.clip.')
    init = (cfg.get('vision_encoder') or {}).get('init_cfg') or {}
    if isinstance(init, dict) and init.get('type') == 'Pretrained':
        prefixes.append('backbone.vision.')
    return tuple(prefixes)


def frozen_pretrained_keys(model: nn.Module,
                           backbone_cfg: Optional[dict]) -> List[str]:
    """Names of parameters that do not train and come from pretrained
    files: what a checkpoint can leave out."""
    if is_model_wrapper(model):
        model = model.module
    prefixes = pretrained_prefixes(backbone_cfg)
    if not prefixes:
        return []
    return [
        name for name, param in model.named_parameters()
        if not param.requires_grad and name.startswith(prefixes)
    ]


def fingerprint(state: Dict[str, object], keys: List[str]) -> str:
    """SHA-256 of the named tensors (names, dtypes, shapes and bytes)."""
    digest = hashlib.sha256()
    for key in sorted(keys):
        tensor = state[key].detach().cpu().contiguous()
        digest.update(f'{key}|{tensor.dtype}|{tuple(tensor.shape)}|'.encode())
        digest.update(tensor.view(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def strip_frozen(state_dict: dict, keys: List[str], digest: str,
                 source: Optional[str]) -> dict:
    """Remove ``keys`` from ``state_dict`` in place; returns the meta entry
    that describes what was removed."""
    for key in keys:
        state_dict.pop(key, None)
    return dict(num_tensors=len(keys), sha256=digest, source=source)


def restore_frozen(checkpoint: dict,
                   model: nn.Module,
                   name: str = 'the checkpoint',
                   strict: bool = True) -> None:
    """Fill the weights a checkpoint left out from ``model`` (built with
    its pretrained encoders), after checking they are the same weights
    the checkpoint was trained on. No-op for full checkpoints.

    Args:
        checkpoint (dict): The loaded checkpoint; its ``state_dict`` gets
            the frozen weights.
        model (nn.Module): The model about to load it.
        name (str): How errors name the checkpoint.
        strict (bool): Refuse a checkpoint that leaves out weights that
            train in ``model`` (``--resume``, tools/test.py, the
            inferencer). False (``load_from``, non-strict as in mmengine)
            restores the frozen weights only and leaves the other missing
            keys to the loader, which logs them. Defaults to True.
    """
    info = checkpoint.get('meta', {}).get(META_KEY)
    if not info:
        return
    if is_model_wrapper(model):
        model = model.module
    state = checkpoint['state_dict']
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    params = dict(model.named_parameters())
    trainable = [k for k in missing if k in params and
                 params[k].requires_grad]
    if trainable and strict:
        raise ValueError(
            f'{name} leaves out weights that train in this model, e.g. '
            f'{trainable[:3]}: it was written for another config. To '
            'start training from it, use load_from (it loads what matches '
            'and logs the rest).')
    frozen = [k for k in missing if k in params and
              not params[k].requires_grad]
    if len(frozen) != info['num_tensors']:
        raise ValueError(
            f'{name} left out {info["num_tensors"]} frozen pretrained '
            f'tensors; this model has {len(frozen)} frozen tensors the '
            'checkpoint does not hold, so its encoders are frozen or '
            'adapted differently. Use the model.backbone '
            'settings (pretrained, out_indices, peft_cfg, frozen) it was '
            'trained with, or a checkpoint written with '
            'default_hooks.checkpoint.save_frozen=True.')
    if fingerprint(own, frozen) != info['sha256']:
        raise ValueError(
            f'{name} holds only trained weights; its frozen encoder weights '
            f'came from {info.get("source")!r} and this model\'s differ. '
            'Set model.backbone.pretrained to the weights it was trained '
            'on, or use a checkpoint written with '
            'default_hooks.checkpoint.save_frozen=True.')
    for key in missing if strict else frozen:
        state[key] = own[key]
    if not strict:
        print_log(
            f'{name}: {len(frozen)} frozen pretrained tensors restored from '
            f'{info.get("source")!r} (fingerprint matches).',
            logger='current')
