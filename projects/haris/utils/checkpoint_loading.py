"""Load a checkpoint into a built model, strictly, as our tools do."""
import re

import torch.nn as nn
from mmengine.model import is_model_wrapper
from mmengine.runner import load_state_dict

from .checkpoint_safety import load_local_checkpoint
from .frozen_weights import restore_frozen


def load_model_checkpoint(model: nn.Module, filename: str,
                          map_location='cpu') -> dict:
    """Load ``filename`` into ``model`` strictly and return the checkpoint.

    A checkpoint that left out the frozen pretrained encoder weights (the
    default for frozen-encoder configs) gets them from ``model``, which
    was built with those encoders, after a fingerprint check. Any other
    key that is missing or unexpected is an error naming the file.
    """
    checkpoint = load_local_checkpoint(filename, map_location=map_location)
    if 'state_dict' not in checkpoint:
        checkpoint = dict(state_dict=checkpoint)
    load_checkpoint_dict(model, checkpoint, f'Checkpoint {filename}')
    return checkpoint


def load_checkpoint_dict(model: nn.Module, checkpoint: dict,
                         name: str) -> None:
    """Load ``checkpoint`` (``state_dict`` and ``meta``, read already)
    into ``model`` strictly, its frozen encoder weights restored as in
    :func:`load_model_checkpoint`; ``name`` is how errors name it."""
    if is_model_wrapper(model):
        model = model.module
    checkpoint['state_dict'] = {
        re.sub(r'^module\.', '', k): v
        for k, v in checkpoint['state_dict'].items()
    }
    restore_frozen(checkpoint, model, name=name)
    try:
        load_state_dict(model, checkpoint['state_dict'], strict=True)
    except RuntimeError as err:
        raise ValueError(
            f'{name} does not fit this config\'s model; was it trained '
            f'with another config? {str(err)[:800]}') from err
