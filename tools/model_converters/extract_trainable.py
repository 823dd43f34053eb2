"""Keep only the trained weights (adapters, neck, head) of a checkpoint.

The result is small and loads on top of the pretrained encoders named in
the config (the frozen CLIP weights come from there):

    python tools/model_converters/extract_trainable.py \
        configs/haris_refcoco.py work_dirs/haris_refcoco/epoch_50.pth \
        haris_refcoco_trainable.pth
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.runner import load_checkpoint  # noqa: E402

import projects.haris  # noqa: E402,F401
from mmseg.registry import MODELS  # noqa: E402


def trainable_state(model) -> dict:
    """state_dict entries of parameters that require grad, plus buffers
    outside the frozen encoders."""
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    return {
        k: v.detach().cpu()
        for k, v in model.state_dict().items()
        if k in trainable or not k.startswith('backbone.')
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('out')
    args = parser.parse_args()
    init_default_scope('mmseg')
    model = MODELS.build(Config.fromfile(args.config).model)
    ckpt = load_checkpoint(model, args.checkpoint, map_location='cpu',
                           strict=True)
    state = trainable_state(model)
    meta = dict(ckpt.get('meta', {}), trainable_only=True)
    tmp = args.out + '.tmp'
    torch.save(dict(state_dict=state, meta=meta), tmp)
    os.replace(tmp, args.out)
    print(f'{args.out}: {len(state)} tensors, '
          f'{sum(v.numel() for v in state.values()):,} values '
          f'({osp.getsize(args.out) / 2**20:.1f} MiB)')


if __name__ == '__main__':
    main()
