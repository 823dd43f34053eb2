from .finite_loss_hook import FiniteLossHook
from .rng_state_hook import RngStateHook
from .trainable_checkpoint_hook import TrainableCheckpointHook

__all__ = ['FiniteLossHook', 'RngStateHook', 'TrainableCheckpointHook']
