from .checkpoint_loading import load_model_checkpoint
from .checkpoint_safety import (load_local_checkpoint,
                                mmengine_checkpoint_globals,
                                weights_only_by_default)
from .launch import init_cpu_distributed

__all__ = [
    'load_model_checkpoint', 'load_local_checkpoint',
    'mmengine_checkpoint_globals', 'weights_only_by_default',
    'init_cpu_distributed'
]
