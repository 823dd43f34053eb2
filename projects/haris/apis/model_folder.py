"""A trained model as a folder (or hub repository) that loads without
this repository's configs and without unpickling anything.

A model folder holds:

- ``config.py``: the resolved config (no ``_base_``), read as data by
  :func:`read_model_config` and never executed. The training-only parts
  (train dataloader, schedule, optimizer) are dropped; the val/test
  dataloaders and evaluators stay, with relative data paths, so
  ``tools/test.py --model`` evaluates it on the user's copy of the data.
- ``model.safetensors``: the weights. For a frozen-encoder config only
  what trains (adapters, neck, head); its metadata names the frozen
  encoders' source (``model.backbone.pretrained``: a hub id or folder)
  and records their SHA-256, as ``TrainableCheckpointHook`` does.
- ``README.md``: the model card (:mod:`.model_card`).
"""
import copy
import importlib
import json
import os
import os.path as osp
import sys
from typing import Dict, Optional

import torch.nn as nn
from mmengine.config import Config
from mmengine.model import is_model_wrapper

from ..utils.checkpoint_loading import load_checkpoint_dict
from ..utils.frozen_weights import (META_KEY, fingerprint,
                                    frozen_pretrained_keys, strip_frozen)
from ..utils.literal_config import read_literal_config

CONFIG_FILE = 'config.py'
WEIGHTS_FILE = 'model.safetensors'
CARD_FILE = 'README.md'
FOLDER_FILES = (CONFIG_FILE, WEIGHTS_FILE, CARD_FILE)
# top-level config keys that only training reads
TRAINING_KEYS = ('train_dataloader', 'train_cfg', 'optim_wrapper',
                 'optimizer', 'param_scheduler', 'auto_scale_lr',
                 'train_pipeline', 'load_from', 'resume', 'work_dir',
                 'launcher', 'max_iters', 'max_epochs')
EVAL_LOADERS = ('val_dataloader', 'test_dataloader')
# packages (and their modules) a folder's custom_imports may import
IMPORTABLE = ('projects.haris', 'mmseg', 'mmpretrain', 'mmdet', 'mmcv',
              'mmengine')


def resolve_model_folder(path_or_id: str) -> str:
    """The local folder of a model: ``path_or_id`` itself when it is a
    folder, else a hub repository id fetched (or found in the cache) by
    ``huggingface_hub.snapshot_download``, which honours
    ``HF_HUB_OFFLINE``, ``HF_HUB_CACHE`` and ``HF_TOKEN``.

    Raises:
        FileNotFoundError: Neither a model folder nor a hub model that
            could be fetched; the message says which and how to fix it.
    """
    path = osp.expanduser(str(path_or_id))
    if not osp.isdir(path):
        if osp.exists(path) or path.count('/') != 1 or \
                path.startswith(('.', '/')):
            raise FileNotFoundError(
                f'Model {path_or_id} not found: give a folder written by '
                'tools/model_converters/save_pretrained.py or a hub id '
                '(owner/name).')
        from huggingface_hub import snapshot_download
        try:
            path = snapshot_download(
                repo_id=path, allow_patterns=list(FOLDER_FILES))
        except (OSError, ValueError) as err:
            raise FileNotFoundError(
                f'Model {path_or_id} is not a local folder and could not be '
                f'fetched from the hub ({type(err).__name__}: '
                f'{str(err)[:300]}). Check the id; offline '
                '(HF_HUB_OFFLINE=1) only models already in the hub cache '
                '(HF_HUB_CACHE) load; a private model needs HF_TOKEN.'
            ) from err
    missing = [f for f in (CONFIG_FILE, WEIGHTS_FILE)
               if not osp.isfile(osp.join(path, f))]
    if missing:
        raise FileNotFoundError(
            f'Model folder {path_or_id} has no {" or ".join(missing)}; '
            'write it with tools/model_converters/save_pretrained.py.')
    return path


def read_model_config(folder: str) -> Config:
    """The folder's ``config.py``, read as data (never executed).

    The modules its ``custom_imports`` name are imported, as
    ``Config.fromfile`` would, if they are OpenMMLab's or this package's
    (``IMPORTABLE``) or imported already; a folder cannot make another
    installed module run."""
    cfg = read_literal_config(osp.join(folder, CONFIG_FILE))
    imports = (cfg.get('custom_imports') or {}).get('imports') or []
    imports = [imports] if isinstance(imports, str) else list(imports)
    for name in imports:
        if name in sys.modules:
            continue
        if not any(name == p or name.startswith(p + '.')
                   for p in IMPORTABLE):
            raise ValueError(
                f'Model {folder} asks to import {name!r} (custom_imports); '
                f'a model folder imports only {", ".join(IMPORTABLE)} '
                'modules. If you trust it, import it yourself first.')
        importlib.import_module(name)
    return cfg


def relative_data_root(path: str) -> str:
    """A dataset's ``data_root`` as the folder's config keeps it: relative
    paths as they are, an absolute one inside the current directory
    relative to it, any other as ``data/<its last folder>`` (the
    repository's layout, docs/dataset_prepare.md)."""
    if not osp.isabs(path):
        return path
    rel = osp.relpath(path)
    if not rel.startswith('..'):
        return rel
    return osp.join('data', osp.basename(osp.normpath(path)))


def folder_config(cfg: Config) -> Config:
    """``cfg`` resolved, without its training-only parts, with relative
    data roots in its val/test datasets."""
    out = copy.deepcopy(cfg.to_dict())
    for key in TRAINING_KEYS:
        out.pop(key, None)
    if isinstance(out.get('data_root'), str):
        out['data_root'] = relative_data_root(out['data_root'])
    for loader in EVAL_LOADERS:
        dataset = (out.get(loader) or {}).get('dataset') or {}
        for ds in [dataset] + list(dataset.get('datasets', [])):
            if isinstance(ds.get('data_root'), str):
                ds['data_root'] = relative_data_root(ds['data_root'])
    return Config(out)


def trained_weights(model: nn.Module,
                    backbone_cfg: Optional[dict]) -> tuple:
    """The model's weights without the frozen pretrained encoder weights,
    and the meta entry that names and fingerprints those (None when the
    encoders are built randomly and every weight is kept)."""
    if is_model_wrapper(model):
        model = model.module
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    keys = frozen_pretrained_keys(model, backbone_cfg)
    if not keys:
        return state, None
    info = strip_frozen(state, keys, fingerprint(state, keys),
                        (backbone_cfg or {}).get('pretrained'))
    return state, info


def save_model_weights(model: nn.Module,
                       cfg: Config,
                       filename: str,
                       dataset_meta: Optional[dict] = None) -> dict:
    """Write ``model``'s weights as safetensors (frozen pretrained encoder
    weights left out, their source and SHA-256 in the metadata). Returns
    the metadata."""
    from safetensors.torch import save
    state, info = trained_weights(model, cfg.model.get('backbone'))
    metadata = dict(format='pt')
    if info is not None:
        metadata[META_KEY] = json.dumps(info)
    if dataset_meta:
        metadata['dataset_meta'] = json.dumps(dataset_meta)
    # safetensors refuses tensors that share memory: one copy each
    state = {k: v.contiguous().clone() for k, v in state.items()}
    tmp = filename + '.tmp'
    with open(tmp, 'wb') as f:  # save_file would make it owner-only
        f.write(save(state, metadata=metadata))
    os.replace(tmp, filename)
    return metadata


def read_model_weights(folder: str) -> dict:
    """The folder's weights as a checkpoint dict (``state_dict``,
    ``meta``), read by safetensors (no unpickling)."""
    from safetensors import safe_open
    with safe_open(osp.join(folder, WEIGHTS_FILE), framework='pt') as f:
        metadata = f.metadata() or {}
        state = {k: f.get_tensor(k) for k in f.keys()}
    meta = {
        k: json.loads(metadata[k])
        for k in (META_KEY, 'dataset_meta') if k in metadata
    }
    return dict(state_dict=state, meta=meta)


def check_base_model(model: nn.Module, backbone_cfg: Optional[dict],
                     info: Dict[str, object], name: str) -> None:
    """Refuse frozen encoders other than the ones the model trained on,
    naming both (source and SHA-256)."""
    keys = frozen_pretrained_keys(model, backbone_cfg)
    if len(keys) != info['num_tensors']:
        return  # restore_frozen explains a different set of frozen weights
    found = fingerprint(model.state_dict(), keys)
    if found != info['sha256']:
        raise ValueError(
            f'{name} was trained on the frozen encoders of '
            f'{info.get("source")!r} (SHA-256 {info["sha256"]}); the '
            f'encoders loaded from {(backbone_cfg or {}).get("pretrained")!r}'
            f' differ (SHA-256 {found}). Load the base model the card '
            'names (or a copy of exactly those weights: base_model=PATH).')


def load_model_weights(model: nn.Module, folder: str, cfg: Config) -> dict:
    """Load the folder's weights into ``model`` (built from ``cfg``, the
    folder's config, with its pretrained encoders) strictly: the frozen
    encoder weights are checked against the SHA-256 recorded at saving
    and kept. Returns the checkpoint's ``meta``."""
    checkpoint = read_model_weights(folder)
    name = f'Model {folder}'
    info = checkpoint['meta'].get(META_KEY)
    if is_model_wrapper(model):
        model = model.module
    if info:
        check_base_model(model, cfg.model.get('backbone'), info, name)
    load_checkpoint_dict(model, checkpoint, name)
    return checkpoint['meta']
