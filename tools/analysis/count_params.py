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
from tools.analysis.flop_count import flops_table  # noqa: E402
from tools.analysis.parameter_count import parameter_table  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--random-clip', action='store_true',
                        help='build the named CLIP with random weights')
    parser.add_argument('--json', help='also write the counts here')
    parser.add_argument('--flops', type=int, metavar='SIZE',
                        help='also count GFLOPs for one SIZE x SIZE image')
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
    result = {k: dict(total=t, trainable=tr) for k, (t, tr) in rows.items()}
    if args.flops:
        length = 22
        gflops = flops_table(model, args.flops, length)
        table = PrettyTable(['part', f'GFLOPs ({args.flops}px, L={length})'])
        for name, value in gflops.items():
            table.add_row([name, f'{value:.2f}'])
            result.setdefault(name, {})['gflops'] = round(value, 3)
        print(table)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=2)


if __name__ == '__main__':
    main()
