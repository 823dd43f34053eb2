"""The command-line choice every tool offers: a config and a checkpoint,
or ``--model`` naming a model folder or hub id."""
import argparse
import os.path as osp
import sys

MODEL_HELP = ('a model folder written by tools/model_converters/'
              'save_pretrained.py, or a hub id (owner/name), in place of '
              'CONFIG and CHECKPOINT; HF_HUB_OFFLINE=1 uses the hub cache '
              'only')


def add_model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--model', metavar='FOLDER_OR_HUB_ID',
                        help=MODEL_HELP)


def check_model_arguments(parser: argparse.ArgumentParser,
                          args: argparse.Namespace,
                          check_files: bool = True) -> None:
    """Exactly one of ``--model`` and the config and checkpoint pair;
    with ``check_files``, the files named must exist."""
    pair = (args.config, args.checkpoint)
    if args.model is not None:
        if any(p is not None for p in pair):
            parser.error('give --model or a config and checkpoint, not '
                         'both.')
        return
    if any(p is None for p in pair):
        parser.error('give a config and a checkpoint, or --model '
                     'FOLDER_OR_HUB_ID.')
    for path, what in zip(pair if check_files else (),
                          ('Config', 'Checkpoint')):
        if not osp.isfile(path):
            sys.exit(f'{what} {path} not found.')


def build_inferencer(args: argparse.Namespace, **kwargs):
    """The ``RefSegInferencer`` the arguments name (``--model``, or
    ``config`` and ``checkpoint``), on ``args.device``."""
    from .inferencer import RefSegInferencer
    device = getattr(args, 'device', None)
    if args.model is not None:
        return RefSegInferencer.from_pretrained(args.model, device, **kwargs)
    return RefSegInferencer(args.config, args.checkpoint, device, **kwargs)
