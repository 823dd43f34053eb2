"""Train a HARIS model (mmseg's tools/train.py, for this project)."""
import argparse
import logging
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.logging import print_log  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from projects.haris.utils import (add_run_arguments,  # noqa: E402
                                  close_distributed,
                                  init_cpu_distributed, load_run_config,
                                  mmengine_checkpoint_globals)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        action='store_true',
        default=False,
        help='resume from the latest checkpoint in the work_dir '
        'automatically')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training')
    add_run_arguments(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_run_config(args)
    if args.amp:
        optim_wrapper = cfg.optim_wrapper.type
        if optim_wrapper == 'AmpOptimWrapper':
            print_log(
                'AMP training is already enabled in your config.',
                logger='current',
                level=logging.WARNING)
        else:
            assert optim_wrapper == 'OptimWrapper', (
                '`--amp` is only supported when the optimizer wrapper type '
                f'is `OptimWrapper` but got {optim_wrapper}.')
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
    cfg.resume = args.resume
    init_cpu_distributed(cfg, args.launcher)

    runner = Runner.from_cfg(cfg)
    # --resume / load_from read mmengine checkpoints with torch's
    # weights-only unpickler; allow mmengine's types for that load only
    load_or_resume = runner.load_or_resume

    def scoped_load_or_resume():
        with mmengine_checkpoint_globals():
            load_or_resume()

    runner.load_or_resume = scoped_load_or_resume
    runner.train()
    del runner  # its DDP model holds the process group
    close_distributed()


if __name__ == '__main__':
    main()
