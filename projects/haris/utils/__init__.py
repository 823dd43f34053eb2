from .checkpoint_loading import load_model_checkpoint
from .checkpoint_safety import (load_local_checkpoint,
                                mmengine_checkpoint_globals,
                                weights_only_by_default)
from .launch import (add_run_arguments, close_distributed,
                     init_cpu_distributed, load_run_config)

__all__ = [
    'load_model_checkpoint', 'load_local_checkpoint',
    'mmengine_checkpoint_globals', 'weights_only_by_default',
    'init_cpu_distributed', 'add_run_arguments', 'load_run_config',
    'close_distributed'
]
