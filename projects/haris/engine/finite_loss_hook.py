"""Stop training at a non-finite loss, before it is checkpointed."""
import logging
import math
import os.path as osp

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapperDict

from mmseg.registry import HOOKS


def _scales_loss(optim_wrapper) -> bool:
    """Whether the optimizer steps go through a loss scaler (AMP)."""
    if isinstance(optim_wrapper, OptimWrapperDict):
        return any(map(_scales_loss, optim_wrapper.optim_wrappers.values()))
    return isinstance(optim_wrapper, AmpOptimWrapper) or \
        getattr(optim_wrapper, 'loss_scaler', None) is not None


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Raise a clear error when the loss becomes NaN or infinite.

    Without mixed precision, training stops at the first such loss. Under
    AMP (an ``AmpOptimWrapper``, or any optim wrapper with a
    ``loss_scaler``) a non-finite loss gives non-finite gradients, and the
    loss scaler skips that optimizer step and lowers its scale, by design:
    the weights stay as they were. So up to ``max_skipped_steps``
    consecutive non-finite losses are tolerated (each one logged as a
    warning) and the next one stops training; a finite loss starts the
    count again.

    It runs before ``CheckpointHook`` in the same iteration, so the
    weights of the iteration that stops training are never saved; the
    last checkpoint on disk is the last good one (a tolerated step left
    the weights unchanged).

    Args:
        max_skipped_steps (int): Consecutive non-finite losses tolerated
            under AMP. 0 stops at the first one, as without AMP. Defaults
            to 5: a few batches that overflow in float16 pass, a run whose
            loss stays non-finite stops within 6 iterations.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, max_skipped_steps: int = 5) -> None:
        if not isinstance(max_skipped_steps, int) or max_skipped_steps < 0:
            raise ValueError('FiniteLossHook: max_skipped_steps must be an '
                             'integer >= 0 (consecutive non-finite losses '
                             'tolerated under AMP), got '
                             f'{max_skipped_steps!r}.')
        self.max_skipped_steps = max_skipped_steps
        self._skipped = 0  # consecutive non-finite losses so far

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        loss = outputs.get('loss') if outputs else None
        if loss is None:
            return
        loss = float(loss.detach()) if hasattr(loss, 'detach') else \
            float(loss)
        if math.isfinite(loss):
            self._skipped = 0
            return
        self._skipped += 1
        iteration = runner.iter + 1
        amp = _scales_loss(runner.optim_wrapper)
        if amp and self._skipped <= self.max_skipped_steps:
            print_log(
                f'Loss is {loss} at iteration {iteration}: the loss scaler '
                f'skipped this step ({self._skipped} of '
                f'{self.max_skipped_steps} tolerated in a row).',
                logger='current', level=logging.WARNING)
            return
        why = 'training stopped. '
        if amp:
            why = (f'training stopped: the losses of the {self._skipped} '
                   f'iterations from {iteration - self._skipped + 1} on '
                   'were not finite (mixed precision skips such steps; '
                   f'max_skipped_steps={self.max_skipped_steps} in a row '
                   'are tolerated). ')
        pointer = osp.join(runner.work_dir, 'last_checkpoint')
        last = open(pointer).read().strip() if osp.isfile(pointer) else None
        raise RuntimeError(
            f'Loss is {loss} at iteration {iteration}; ' + why +
            (f'The last good checkpoint is {last}. ' if last
             else 'No checkpoint had been written yet. ') +
            'Lower the learning rate or enable clip_grad, then --resume.')
