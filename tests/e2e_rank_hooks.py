"""Hooks of the multi-process resume test (added through a config's
``custom_imports``): what each process drew and trained, written per rank,
and a fault that every process reaches together."""
import os

import torch
from mmengine.dist import barrier, get_dist_info
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmseg.registry import HOOKS


@HOOKS.register_module()
class RankRecordHook(Hook):
    """Record, in each process, what every training step drew and what the
    run trained.

    After each step, ``{out}.rank{rank}.steps.pth`` gets the step's
    samples (image, sentence and flip: the data pipeline's numpy draws)
    and torch's generator state as the step left it (the dropout stream);
    at the end of training ``{out}.rank{rank}.weights.pth`` gets the
    trainable parameters.
    """

    # after_train_iter before RngStateHook swaps the step's stream out
    priority = 'HIGHEST'

    def __init__(self, out: str) -> None:
        self.out = out
        self.steps = {}

    def _path(self, kind: str) -> str:
        return f'{self.out}.rank{get_dist_info()[0]}.{kind}.pth'

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        samples = [(os.path.basename(s.img_path), s.text, bool(s.flip))
                   for s in data_batch['data_samples']]
        self.steps[runner.iter + 1] = dict(samples=samples,
                                           rng=torch.get_rng_state())
        torch.save(self.steps, self._path('steps'))

    def after_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        torch.save({k: v.detach().clone()
                    for k, v in model.named_parameters() if v.requires_grad},
                   self._path('weights'))


@HOOKS.register_module()
class RankFaultHook(Hook):
    """Kill every process right after the checkpoint of iteration
    ``die_after_checkpoint`` is on disk.

    The processes meet at a barrier first: the launcher stops the others
    as soon as one exits, and only rank 0 writes the checkpoint.
    """

    priority = 'LOWEST'  # after CheckpointHook in the same iteration

    def __init__(self, die_after_checkpoint: int) -> None:
        self.die_after_checkpoint = die_after_checkpoint

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if runner.iter + 1 == self.die_after_checkpoint:
            barrier()
            os._exit(9)
