"""Command line and run-time set-up shared by tools/train.py and
tools/test.py."""
import argparse
import gc
import os
import os.path as osp
import sys
from typing import Optional

import torch
import torch.distributed as torch_dist
from mmengine.config import Config, DictAction


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


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments tools/train.py and tools/test.py share: the config
    overrides and the launcher (set by dist_*.sh and slurm_*.sh)."""
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_run_config(args: argparse.Namespace,
                    cfg: Optional[Config] = None,
                    name: Optional[str] = None) -> Config:
    """Read ``args.config`` (or take ``cfg``, read already, e.g. a model
    folder's named ``name``) with the shared arguments applied: launcher,
    ``--cfg-options``, and the work dir (``--work-dir``, the config's, or
    ``work_dirs/<config name>``). Exits with a message when a file named
    on the command line is missing."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if cfg is None:
        named = [(args.config, 'Config')]
        if getattr(args, 'checkpoint', None) is not None:
            named.append((args.checkpoint, 'Checkpoint'))
        for path, what in named:
            if not osp.isfile(path):
                sys.exit(f'{what} {path} not found.')
        cfg = Config.fromfile(args.config)
        name = args.config
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join(
            './work_dirs',
            osp.splitext(osp.basename(osp.normpath(name)))[0])
    return cfg


def close_distributed() -> None:
    """Destroy the process group, and free it, before the process exits.

    A gloo group still alive at the interpreter's teardown can abort a rank
    at exit ('terminate called without an active exception'). Destroying
    the group is not enough while a DDP model still refers to it: the
    Runner and its model sit in reference cycles, so they (and the group's
    worker threads) would otherwise be freed only by the final garbage
    collection during teardown. Callers drop their Runner first; the
    collection here then frees the group while the interpreter is whole.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.destroy_process_group()
    gc.collect()
