"""Resume torch's random stream (dropout) where the checkpoint left it."""
import torch
from mmengine.hooks import Hook

from mmseg.registry import HOOKS


@HOOKS.register_module()
class RngStateHook(Hook):
    """Save torch's CPU (and CUDA) generator state in each checkpoint and
    restore it when training resumes from that checkpoint.

    mmengine's resume restores weights, optimizer, schedulers and the data
    position, but not torch's generator, so dropout (e.g. LoRA's
    ``lora_dropout``) draws other masks after a resume than in an
    uninterrupted run. With this hook an iteration-based run that is
    resumed gives the same weights as one that never stopped (tested).
    Data augmentation draws from numpy, whose stream mmengine's resume
    replays by re-reading the skipped batches. The state is restored at
    the start of the first resumed epoch, after the checkpoint is loaded;
    a ``load_from`` start (iteration 0) keeps the seeded generator.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._pending = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        state = dict(cpu=torch.get_rng_state())
        if torch.cuda.is_available():
            state['cuda'] = torch.cuda.get_rng_state_all()
        checkpoint.setdefault('meta', {})['torch_rng_state'] = state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._pending = checkpoint.get('meta', {}).get('torch_rng_state')

    def before_train_epoch(self, runner) -> None:
        state, self._pending = self._pending, None
        if state is None or (runner.iter == 0 and runner.epoch == 0):
            return
        torch.set_rng_state(state['cpu'])
        if 'cuda' in state and torch.cuda.is_available() and \
                len(state['cuda']) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state['cuda'])
