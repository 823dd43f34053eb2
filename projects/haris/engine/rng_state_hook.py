"""Resume torch's random stream (dropout) where the checkpoint left it."""
from typing import Optional

import torch
from mmengine.hooks import Hook

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
    draws exactly what it drew without the hook. Data augmentation draws
    from numpy, whose stream mmengine's resume replays by re-reading the
    skipped batches. A ``load_from`` start (iteration 0) keeps the seeded
    generator.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._loaded: Optional[dict] = None  # from the checkpoint, unused
        self._train: Optional[dict] = None  # what the next step continues
        self._outside: Optional[dict] = None  # stream between the steps

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        state = self._train if self._train is not None else _get_state()
        checkpoint.setdefault('meta', {})['torch_rng_state'] = state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._loaded = checkpoint.get('meta', {}).get('torch_rng_state')

    def before_train(self, runner) -> None:
        # after load_or_resume: runner.iter tells a resume from a load_from
        state, self._loaded = self._loaded, None
        if state is not None and runner.iter > 0:
            self._train = state

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
