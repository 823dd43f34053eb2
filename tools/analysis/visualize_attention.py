"""Draw the per-word attention of HLA's bottom-up and feedback rounds.

Example:
    python tools/analysis/visualize_attention.py photo.jpg "the black dog" \
        --config configs/haris_synthetic.py --checkpoint ckpt.pth \
        --out attention.png [--level 0]
    python tools/analysis/visualize_attention.py photo.jpg "the black dog" \
        --model owner/name
"""
import argparse
import os.path as osp
import sys

sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from projects.haris.apis import (collect_attention,  # noqa: E402
                                 draw_attention_figure)
from projects.haris.apis.model_source import (  # noqa: E402
    add_model_option, build_inferencer, check_model_arguments)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('image')
    parser.add_argument('expression')
    parser.add_argument('--config')
    parser.add_argument('--checkpoint')
    add_model_option(parser)
    parser.add_argument('--out', default='attention.png')
    parser.add_argument('--level', type=int, default=0,
                        help='HLA level, 0 = shallowest')
    parser.add_argument('--device', default=None)
    args = parser.parse_args(argv)
    check_model_arguments(parser, args)
    try:
        inferencer = build_inferencer(args)
    except (ValueError, FileNotFoundError) as err:
        sys.exit(str(err))
    att = collect_attention(inferencer, args.image, args.expression,
                            args.level)
    draw_attention_figure(att, args.out)
    print(f'{args.out}: {len(att["words"])} tokens, rows = words, columns '
          '= image with mask | round 1 | round 2')


if __name__ == '__main__':
    main()
