"""Load mmengine checkpoints with torch's weights-only unpickler.

torch >= 2.6 loads with ``weights_only=True`` by default and refuses the
few non-tensor types that mmengine writes into checkpoints (its log
``HistoryBuffer`` and numpy arrays/scalars in the message hub). Rather than
turning safety off, we allow exactly those types and keep refusing
everything else, with a message that names the file.
"""
import os.path as osp
import pickle

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader


def history_buffer_method(owner, name: str):
    """Stands in for ``getattr`` while unpickling: mmengine pickles each
    ``HistoryBuffer``'s statistics methods as ``getattr(HistoryBuffer,
    'mean')``. Anything else is refused."""
    if (owner is HistoryBuffer or isinstance(owner, HistoryBuffer)) and \
            name in {'min', 'max', 'current', 'mean',
                     *HistoryBuffer._statistics_methods}:
        return getattr(owner, name)
    raise pickle.UnpicklingError(
        f'getattr({owner!r}, {name!r}) is not allowed in a checkpoint.')


def mmengine_checkpoint_types() -> list:
    """The non-tensor globals found in checkpoints written by mmengine's
    Runner (CheckpointHook, ``--resume``)."""
    dtypes = [type(np.dtype(t)) for t in (np.float64, np.float32, np.int64,
                                          np.int32, np.bool_)]
    return [
        HistoryBuffer,
        (history_buffer_method, '__builtin__.getattr'),
        (history_buffer_method, 'builtins.getattr'),
        np.ndarray,
        np.dtype,
        np.core.multiarray._reconstruct,
        np.core.multiarray.scalar,
        *dtypes,
    ]


def load_local_checkpoint(filename: str, map_location=None) -> dict:
    """mmengine's local-file loader, with the weights-only unpickler."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(
            f'Checkpoint {filename} not found; pass the path of a .pth '
            'written by tools/train.py (e.g. work_dirs/<config>/'
            'iter_1000.pth).')
    try:
        return torch.load(filename, map_location=map_location,
                          weights_only=True)
    except Exception as err:  # UnpicklingError, truncated file, ...
        raise RuntimeError(
            f'Refused or could not read checkpoint {filename}: {err}\n'
            'Only tensors and the types mmengine writes are loaded. If the '
            'file is truncated (killed while saving), resume from the '
            'previous checkpoint; if you trust a file with other objects, '
            'convert it with torch.load(..., weights_only=False) and save '
            'its state_dict.') from err


def allow_mmengine_checkpoints() -> None:
    """Allow mmengine's checkpoint types and route mmengine's local loads
    through :func:`load_local_checkpoint`. Idempotent."""
    torch.serialization.add_safe_globals(mmengine_checkpoint_types())
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_local_checkpoint, force=True)
