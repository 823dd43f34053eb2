"""Run-time adjustments shared by tools/train.py and tools/test.py."""
import torch
from mmengine.config import Config


def use_gloo_without_cuda(cfg: Config) -> None:
    """Distributed runs on machines without CUDA use the gloo backend."""
    if not torch.cuda.is_available():
        cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
        cfg.env_cfg.dist_cfg['backend'] = 'gloo'
