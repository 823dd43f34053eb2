"""Print total and trainable parameters of a config's model, per part.

With ``--random-clip`` the CLIP named by ``model.backbone.pretrained`` is
built from its known architecture with random weights, so no download is
needed (the counts are the same).

Example:
    python tools/analysis/count_params.py configs/haris_refcoco.py \
        --random-clip --json counts.json
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import Config  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from prettytable import PrettyTable  # noqa: E402

import projects.haris  # noqa: E402,F401
from mmseg.registry import MODELS  # noqa: E402
from projects.haris.models.backbones import ARCHITECTURES  # noqa: E402


def count(module):
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters()
                    if p.requires_grad)
    return total, trainable


def parameter_table(model) -> dict:
    """{part: (total, trainable)} for backbone (CLIP base, adapters), neck,
    decode head and the whole model."""
    rows = {}
    adapters = sum(p.numel() for n, p in model.backbone.named_parameters()
                   if 'lora_' in n or 'ia3_' in n or 'adaption' in n)
    total, trainable = count(model.backbone)
    rows['backbone'] = (total, trainable)
    rows['  of which adapters'] = (adapters, adapters)
    for name in ('neck', 'decode_head'):
        rows[name] = count(getattr(model, name))
    rows['total'] = count(model)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--random-clip', action='store_true',
                        help='build the named CLIP with random weights')
    parser.add_argument('--json', help='also write the counts here')
    args = parser.parse_args()
    cfg = Config.fromfile(args.config)
    init_default_scope('mmseg')
    backbone = cfg.model.backbone
    if args.random_clip and backbone.get('pretrained'):
        if backbone.pretrained not in ARCHITECTURES:
            sys.exit(f'No known architecture for {backbone.pretrained}; '
                     f'known: {sorted(ARCHITECTURES)}')
        backbone.clip_config = ARCHITECTURES[backbone.pretrained]
        backbone.pretrained = None
    model = MODELS.build(cfg.model)
    rows = parameter_table(model)
    table = PrettyTable(['part', 'total', 'trainable'])
    for name, (total, trainable) in rows.items():
        table.add_row([name, f'{total:,}', f'{trainable:,}'])
    print(table)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({k: dict(total=t, trainable=tr)
                       for k, (t, tr) in rows.items()}, f, indent=2)


if __name__ == '__main__':
    main()
