from .finite_loss_hook import FiniteLossHook
from .multi_split_test_loop import MultiSplitTestLoop
from .referring_visualization_hook import ReferringVisualizationHook
from .rng_state_hook import RngStateHook
from .trainable_checkpoint_hook import TrainableCheckpointHook

__all__ = [
    'FiniteLossHook', 'MultiSplitTestLoop', 'ReferringVisualizationHook',
    'RngStateHook', 'TrainableCheckpointHook'
]
