"""Leave the frozen pretrained encoder weights out of a full checkpoint.

Training writes such checkpoints by default (``TrainableCheckpointHook``);
this converts one written with ``save_frozen=True`` or by another tool. The
result holds the model weights only (no optimizer state) and loads on top
of the pretrained encoders named in the config:

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

import projects.haris  # noqa: E402,F401
from mmseg.registry import MODELS  # noqa: E402
from projects.haris.utils import load_model_checkpoint  # noqa: E402
from projects.haris.utils.frozen_weights import (  # noqa: E402
    META_KEY, fingerprint, frozen_pretrained_keys, strip_frozen)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('out')
    args = parser.parse_args()
    init_default_scope('mmseg')
    cfg = Config.fromfile(args.config)
    model = MODELS.build(cfg.model)
    ckpt = load_model_checkpoint(model, args.checkpoint)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    keys = frozen_pretrained_keys(model, cfg.model.get('backbone'))
    if not keys:
        sys.exit(f'{args.config} builds its encoders without pretrained '
                 'weights (no model.backbone.pretrained): every weight is '
                 'needed, nothing to leave out.')
    meta = dict(ckpt.get('meta', {}))
    meta[META_KEY] = strip_frozen(state, keys, fingerprint(state, keys),
                                  cfg.model.backbone.get('pretrained'))
    tmp = args.out + '.tmp'
    torch.save(dict(state_dict=state, meta=meta), tmp)
    os.replace(tmp, args.out)
    print(f'{args.out}: {len(state)} tensors, '
          f'{sum(v.numel() for v in state.values()):,} values '
          f'({osp.getsize(args.out) / 2**20:.1f} MiB)')


if __name__ == '__main__':
    main()
