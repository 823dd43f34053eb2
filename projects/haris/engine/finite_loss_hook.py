"""Stop training at the first non-finite loss, before it is checkpointed."""
import math
import os.path as osp

from mmengine.hooks import Hook

from mmseg.registry import HOOKS


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Raise a clear error when the loss becomes NaN or infinite.

    It runs before ``CheckpointHook`` in the same iteration, so the weights
    of that iteration are never saved; the last checkpoint on disk is the
    last good one.
    """

    priority = 'ABOVE_NORMAL'

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        loss = outputs.get('loss') if outputs else None
        if loss is None:
            return
        loss = float(loss.detach()) if hasattr(loss, 'detach') else \
            float(loss)
        if math.isfinite(loss):
            return
        pointer = osp.join(runner.work_dir, 'last_checkpoint')
        last = open(pointer).read().strip() if osp.isfile(pointer) else None
        raise RuntimeError(
            f'Loss is {loss} at iteration {runner.iter + 1}; training '
            'stopped. ' + (f'The last good checkpoint is {last}. ' if last
                           else 'No checkpoint had been written yet. ') +
            'Lower the learning rate or enable clip_grad, then --resume.')
