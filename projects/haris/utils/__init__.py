from .checkpoint_safety import (allow_mmengine_checkpoints,
                                load_local_checkpoint)
from .complexity import flops_table
from .launch import init_cpu_distributed
from .parameters import parameter_table

__all__ = [
    'allow_mmengine_checkpoints', 'load_local_checkpoint',
    'flops_table', 'init_cpu_distributed', 'parameter_table'
]
