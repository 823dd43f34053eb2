"""Segment the object an expression refers to, on your own image.

Example:
    python demo/image_demo.py photo.jpg "the red car on the left" \
        "the tree" --config configs/haris_synthetic.py \
        --checkpoint work_dirs/haris_synthetic/iter_3000.pth --out out.png
    python demo/image_demo.py photo.jpg "the tree" --model owner/name
One overlay per expression (out.png, out_1.png, ...) with the mask outlined
and the sentence written above it; a model trained for generalized
referring segmentation may answer "no target" instead.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from projects.haris.apis.model_source import (  # noqa: E402
    add_model_option, build_inferencer, check_model_arguments)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('image', help='image file')
    parser.add_argument('expressions', nargs='+', help='one or more '
                        'referring expressions (quote each)')
    parser.add_argument('--config')
    parser.add_argument('--checkpoint')
    add_model_option(parser)
    parser.add_argument('--out', default='overlay.png',
                        help='overlay file; more expressions add _1, _2')
    parser.add_argument('--device', default=None, help='cpu or cuda[:N]')
    args = parser.parse_args(argv)
    if not osp.isfile(args.image):
        sys.exit(f'Image {args.image} not found.')
    check_model_arguments(parser, args)
    try:
        inferencer = build_inferencer(args)
        results = inferencer(args.image, args.expressions)
    except (ValueError, FileNotFoundError) as err:
        sys.exit(str(err))
    for line in inferencer.save_overlays(args.image, results, args.out):
        print(line)


if __name__ == '__main__':
    main()
