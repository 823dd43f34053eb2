"""Write a trained model as a folder others load with one line, offline or
from the Hugging Face hub: config.py, model.safetensors and README.md.

    python tools/model_converters/save_pretrained.py \
        configs/haris_refcoco.py work_dirs/haris_refcoco/epoch_50.pth \
        haris_refcoco [--metrics work_dirs/.../val.json ...] \
        [--push-to-hub owner/haris-refcoco [--dry-run]]

then ``RefSegInferencer.from_pretrained('haris_refcoco')`` (or the hub id)
and ``--model haris_refcoco`` in the demos and tools. The checkpoint is
read as tools/test.py reads it; the folder holds no pickle. For a
frozen-encoder config only what trains is written: the frozen encoders
come from the base model the config names (``model.backbone.pretrained``,
a hub id or folder), checked by SHA-256 when the folder is loaded.
``--base-model`` names another copy of exactly those weights (e.g. the hub
id of the local folder you trained from); it is checked here.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

import projects.haris  # noqa: E402,F401
from mmseg.registry import MODELS  # noqa: E402
from projects.haris.apis.model_card import (base_models,  # noqa: E402
                                            is_hub_id, model_card,
                                            read_results)
from projects.haris.apis.model_folder import (  # noqa: E402
    CARD_FILE, CONFIG_FILE, FOLDER_FILES, WEIGHTS_FILE, folder_config,
    save_model_weights)
from projects.haris.utils import load_model_checkpoint  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='the config the model trained with')
    parser.add_argument('checkpoint', help='checkpoint of tools/train.py')
    parser.add_argument('out_dir', help='folder to write')
    parser.add_argument(
        '--metrics', nargs='+', default=[], metavar='JSON',
        help='<split>.json files of tools/test.py for the card\'s table')
    parser.add_argument(
        '--base-model', metavar='ID_OR_FOLDER',
        help='name the frozen encoders by this hub id or folder instead of '
        'the config\'s model.backbone.pretrained (same weights: checked)')
    parser.add_argument(
        '--push-to-hub', metavar='REPO_ID',
        help='then upload the folder to this hub repository '
        '(huggingface_hub upload_folder; log in first or set HF_TOKEN)')
    parser.add_argument(
        '--private', action='store_true',
        help='with --push-to-hub: create the repository private')
    parser.add_argument(
        '--dry-run', action='store_true',
        help='with --push-to-hub: list what would be uploaded, upload '
        'nothing')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='config overrides, as in tools/test.py')
    return parser.parse_args(argv)


def write_folder(args) -> Config:
    """Write the folder; returns its config."""
    for path, what in ((args.config, 'Config'), (args.checkpoint,
                                                 'Checkpoint')):
        if not osp.isfile(path):
            sys.exit(f'{what} {path} not found.')
    init_default_scope('mmseg')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.base_model:
        cfg.model.backbone.pretrained = args.base_model
    try:
        results = read_results(args.metrics)
    except (FileNotFoundError, ValueError) as err:
        sys.exit(str(err))
    model = MODELS.build(cfg.model)
    try:  # strict; frozen weights checked against their SHA-256
        meta = load_model_checkpoint(model, args.checkpoint).get('meta', {})
    except (ValueError, RuntimeError) as err:
        sys.exit(str(err))
    os.makedirs(args.out_dir, exist_ok=True)
    out = folder_config(cfg)
    config_file = osp.join(args.out_dir, CONFIG_FILE)
    out.dump(config_file)
    with open(config_file) as f:
        body = f.read()
    with open(config_file, 'w') as f:
        f.write(f'# Resolved from {args.config}, without its training-only '
                'parts; read as data\n# (never run) by '
                'RefSegInferencer.from_pretrained and --model.\n' + body)
    save_model_weights(model, cfg, osp.join(args.out_dir, WEIGHTS_FILE),
                       meta.get('dataset_meta'))
    card = model_card(out, cfg, args.config, results, args.push_to_hub)
    with open(osp.join(args.out_dir, CARD_FILE), 'w') as f:
        f.write(card)
    return out


def push(args) -> None:
    """Upload the folder's files (``upload_folder``), or list them."""
    files = [f for f in FOLDER_FILES
             if osp.isfile(osp.join(args.out_dir, f))]
    if args.dry_run:
        print(f'Would upload to https://huggingface.co/{args.push_to_hub}:')
        for name in files:
            size = osp.getsize(osp.join(args.out_dir, name))
            print(f'  {name} ({size:,} bytes)')
        return
    from huggingface_hub import HfApi
    api = HfApi()
    api.create_repo(args.push_to_hub, private=args.private, exist_ok=True)
    info = api.upload_folder(
        repo_id=args.push_to_hub, folder_path=args.out_dir,
        allow_patterns=files,
        commit_message=f'Upload {osp.basename(args.config)}')
    print(f'Uploaded {", ".join(files)}: {info}')


def main(argv=None):
    args = parse_args(argv)
    if args.dry_run and not args.push_to_hub:
        sys.exit('--dry-run lists what --push-to-hub would upload; give '
                 '--push-to-hub REPO_ID too.')
    cfg = write_folder(args)
    names = ', '.join(f for f in FOLDER_FILES
                      if osp.isfile(osp.join(args.out_dir, f)))
    print(f'{args.out_dir}: {names}')
    if args.push_to_hub:
        local = [b for b in base_models(cfg) if not is_hub_id(b)]
        if local:
            print(f'Warning: the encoders load from {", ".join(local)}, a '
                  'path on this machine: others cannot load the model. '
                  'Name the same weights by hub id with --base-model.',
                  file=sys.stderr)
        push(args)


if __name__ == '__main__':
    main()
