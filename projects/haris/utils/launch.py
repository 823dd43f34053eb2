"""Run-time adjustments shared by tools/train.py and tools/test.py."""
import torch
import torch.distributed as torch_dist
from mmengine.config import Config


def init_cpu_distributed(cfg: Config, launcher: str) -> None:
    """Start a gloo process group on machines without CUDA.

    mmengine's PyTorch launcher pins each process to a CUDA device, which
    fails on CPU-only machines; starting the group here first (with the
    torchrun environment) makes the Runner use it as it is, and the model
    is wrapped in DDP without device ids.
    """
    if torch.cuda.is_available():
        return
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    cfg.env_cfg.dist_cfg['backend'] = 'gloo'
    if launcher == 'none':
        return
    # DDP on CPU modules takes no device_ids (mmengine's default gives one)
    cfg.setdefault('model_wrapper_cfg',
                   dict(type='MMDistributedDataParallel', device_ids=None))
    if launcher == 'pytorch' and not torch_dist.is_initialized():
        torch_dist.init_process_group(backend='gloo')
