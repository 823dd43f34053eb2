from .checkpoint_loading import load_model_checkpoint
from .checkpoint_safety import (load_local_checkpoint,
                                mmengine_checkpoint_globals,
                                weights_only_by_default)
from .complexity import flops_table
from .launch import init_cpu_distributed
from .parameters import parameter_table

__all__ = [
    'load_model_checkpoint', 'load_local_checkpoint',
    'mmengine_checkpoint_globals', 'weights_only_by_default', 'flops_table',
    'init_cpu_distributed', 'parameter_table'
]
