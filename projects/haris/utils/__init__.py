from .checkpoint_safety import (allow_mmengine_checkpoints,
                                load_local_checkpoint)
from .launch import use_gloo_without_cuda

__all__ = [
    'allow_mmengine_checkpoints', 'load_local_checkpoint',
    'use_gloo_without_cuda'
]
