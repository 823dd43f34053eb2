"""Load mmengine checkpoints under torch's weights-only unpickler.

torch >= 2.6 loads with ``weights_only=True`` by default and refuses the
few non-tensor types that mmengine writes into checkpoints (its log
``HistoryBuffer`` and numpy arrays/scalars in the message hub). Rather than
turning safety off, our own tools allow exactly those types while they load
a checkpoint (:func:`mmengine_checkpoint_globals`, a scoped context) and
keep refusing everything else, with a message that names the file. Nothing
is changed process-wide: other loads (an mmpretrain ``Pretrained``
checkpoint, a user's own ``torch.load``) behave as without this package.
On torch < 2.6, which unpickles fully by default, the context does nothing
and checkpoints load as mmengine loads them.
"""
import contextlib
import os
import os.path as osp
import pickle

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.utils import digit_version


def weights_only_by_default() -> bool:
    """Whether ``torch.load`` without ``weights_only`` uses the weights-only
    unpickler in this process (torch >= 2.6, or forced by the variable torch
    reads)."""
    if os.environ.get('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '0') not in ('0',
                                                                      ''):
        return False
    if os.environ.get('TORCH_FORCE_WEIGHTS_ONLY_LOAD', '0') not in ('0', ''):
        return True
    return digit_version(torch.__version__) >= digit_version('2.6.0')


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


@contextlib.contextmanager
def mmengine_checkpoint_globals():
    """Within the block, the weights-only unpickler also accepts the types
    mmengine writes into checkpoints (torch's scoped ``safe_globals``). A
    no-op where torch does not load weights-only by default."""
    if not weights_only_by_default():
        yield
        return
    with torch.serialization.safe_globals(mmengine_checkpoint_types()):
        yield


def load_local_checkpoint(filename: str, map_location=None) -> dict:
    """Read a checkpoint file as our tools do: with the weights-only
    unpickler and mmengine's types where torch loads weights-only by
    default, as ``torch.load`` does elsewhere. Errors name the file."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(
            f'Checkpoint {filename} not found; pass the path of a .pth '
            'written by tools/train.py (e.g. work_dirs/<config>/'
            'iter_1000.pth).')
    try:
        with mmengine_checkpoint_globals():
            return torch.load(filename, map_location=map_location)
    except Exception as err:  # UnpicklingError, truncated file, ...
        raise RuntimeError(
            f'Refused or could not read checkpoint {filename}: {err}\n'
            'Only tensors and the types mmengine writes are loaded. If the '
            'file is truncated (killed while saving), resume from the '
            'previous checkpoint; if you trust a file with other objects, '
            'convert it with torch.load(..., weights_only=False) and save '
            'its state_dict.') from err
