"""Resume torch's random stream (dropout) where the checkpoint left it, in
every process."""
import logging
from typing import List, Optional

import torch
from mmengine.dist import all_gather_object, get_dist_info
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop

from mmseg.registry import HOOKS


def _get_state() -> dict:
    state = dict(cpu=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def _set_state(state: dict) -> None:
    torch.set_rng_state(state['cpu'])
    if 'cuda' in state and torch.cuda.is_available() and \
            len(state['cuda']) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state['cuda'])


def _warn_restarted_workers(runner) -> None:
    """An epoch-based loop resumes at an epoch start without re-reading the
    data of earlier epochs, so a numpy stream that lives across epochs (in
    persistent workers, or in the main process) starts again from its
    seed, where the uninterrupted run had continued it."""
    loop = getattr(runner, 'train_loop', None)
    loader = getattr(loop, 'dataloader', None)
    if not isinstance(loop, EpochBasedTrainLoop) or loader is None:
        return
    if getattr(loader, 'num_workers', 0) == 0:
        where = ('the main process loads the data '
                 '(train_dataloader.num_workers=0); its numpy stream')
    elif getattr(loader, 'persistent_workers', False):
        where = ('the data workers persist across epochs '
                 '(train_dataloader.persistent_workers=True); their streams')
    else:
        return
    print_log(
        f'RngStateHook: {where} start again from the seed after this '
        'resume, so the data pipeline\'s random draws (sentence picks, '
        'flips) differ from an uninterrupted run\'s. An epoch-based run '
        'resumes exactly with num_workers > 0 and persistent_workers=False.',
        logger='current', level=logging.WARNING)


@HOOKS.register_module()
class RngStateHook(Hook):
    """Give the training steps their own torch random stream, save it in
    each checkpoint and continue it when training resumes.

    mmengine's resume restores weights, optimizer, schedulers and the data
    position, but not torch's generator, so dropout (e.g. LoRA's
    ``lora_dropout``) draws other masks after a resume than in an
    uninterrupted run. Restoring the generator as it was when the
    checkpoint was written is not enough: between two training steps other
    code draws from it too, and does not do so again after a resume. Each
    ``DataLoader`` iterator draws a base seed when it is created: the
    validation loader at the first validation (with persistent workers)
    or at every one, the training loader at every epoch boundary of an
    iteration-based loop without ``InfiniteSampler`` -- including the
    boundaries crossed again while the resumed loop skips the data it has
    already trained on.

    So the hook keeps two streams: the state the training steps continue
    from is swapped in before each step and stored after it, and
    everything between steps (data loading, validation, other hooks)
    draws from the other one. A run that validates and checkpoints at the
    same iteration, killed and resumed, gives the same weights as one that
    never stopped (tested). A run with nothing drawing between steps
    draws exactly what it drew without the hook. A ``load_from`` start
    (iteration 0) keeps the seeded generator.

    Each process has its own stream (they differ with
    ``randomness.diff_rank_seed=True``): after every step the processes
    gather their states, and the main process, which alone writes
    checkpoints, stores them all (``meta['torch_rng_states']``, by rank).
    On resume each process continues its own. A checkpoint that holds the
    states of another number of processes (one, if written before the
    states were per process) cannot be continued exactly -- the processes
    also read other data then: each process keeps its seeded generator,
    with a warning.

    Data augmentation draws from numpy, in the data workers or the main
    process. An iteration-based loop's resume replays those streams by
    re-reading the skipped batches. An epoch-based loop's resume starts
    at the next epoch without re-reading: exact when each epoch has new
    workers (``persistent_workers=False``, all seeded alike), not with
    persistent workers or ``num_workers=0``, which a warning then says.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._loaded: Optional[List[dict]] = None  # from the checkpoint
        self._train: Optional[dict] = None  # what the next step continues
        self._outside: Optional[dict] = None  # stream between the steps
        self._all: Optional[List[dict]] = None  # every process's _train

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # only the main process gets here (Runner.save_checkpoint), so the
        # other processes' states were gathered after the step
        states = self._all or [
            self._train if self._train is not None else _get_state()
        ]
        checkpoint.setdefault('meta', {})['torch_rng_states'] = states

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        meta = checkpoint.get('meta', {})
        self._loaded = meta.get('torch_rng_states')
        if self._loaded is None and 'torch_rng_state' in meta:
            self._loaded = [meta['torch_rng_state']]  # main process's only

    def before_train(self, runner) -> None:
        # after load_or_resume: runner.iter tells a resume from a load_from
        states, self._loaded = self._loaded, None
        if states is None or runner.iter == 0:
            return
        _warn_restarted_workers(runner)
        rank, world_size = get_dist_info()
        if len(states) == world_size:
            self._train = states[rank]
            return
        print_log(
            'RngStateHook: the checkpoint holds the random generator states '
            f'of {len(states)} processes and this run has {world_size}; '
            'each process continues from its seeded generator, so dropout '
            'draws differ from those of an uninterrupted run (as does the '
            'data each process reads). Resume with as many processes as '
            'wrote the checkpoint to continue exactly.',
            logger='current', level=logging.WARNING)

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if self._train is None:  # first step of a run: continue as is
            return
        self._outside = _get_state()
        _set_state(self._train)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        self._train = _get_state()
        if self._outside is not None:
            _set_state(self._outside)
            self._outside = None
        if get_dist_info()[1] > 1:
            self._all = all_gather_object(self._train)
