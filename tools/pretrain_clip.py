"""Pretrain a small CLIP-architecture model contrastively on synthetic
image-caption pairs and save it with ``save_pretrained``, so HARIS can be
trained on a pretrained (not random) encoder anywhere, offline.

The architecture, pixel normalisation, input size and token length come
from a HARIS config (``model.backbone.clip_config``, its data preprocessor
and ``context_length``). Example:

    python tools/pretrain_clip.py configs/haris_synthetic.py \
        --out work_dirs/tiny_clip
    # then: model.backbone.pretrained='work_dirs/tiny_clip'
"""
import argparse
import json
import os
import os.path as osp
import shutil
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from transformers import CLIPConfig, CLIPModel  # noqa: E402

from tools.clip_pretraining.caption_retrieval import (  # noqa: E402
    CaptionRetrieval, clip_pixels, tokenize)
from tools.clip_pretraining.synthetic_captions import (  # noqa: E402
    all_captions, caption_batch)


def parse_args():
    parser = argparse.ArgumentParser(
        description='Contrastive pretraining of a small CLIP on synthetic '
        'image-caption pairs')
    parser.add_argument('config', help='HARIS config giving the CLIP '
                        'architecture (model.backbone.clip_config)')
    parser.add_argument('--out', required=True,
                        help='directory to save_pretrained into')
    parser.add_argument('--steps', type=int, default=600)
    parser.add_argument('--batch-size', type=int, default=64,
                        help='distinct captions per batch (at most 96)')
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--eval-images', type=int, default=480,
                        help='held-out images for the retrieval accuracy')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing model in --out')
    return parser.parse_args()


def check_out(out: str, overwrite: bool) -> None:
    if osp.exists(osp.join(out, 'config.json')) and not overwrite:
        raise SystemExit(f'{out} already holds a model; pass --overwrite to '
                         'replace it or choose another --out.')


def main():
    args = parse_args()
    if not osp.isfile(args.config):
        raise SystemExit(f'Config {args.config} not found.')
    check_out(args.out, args.overwrite)
    cfg = Config.fromfile(args.config)
    clip_config = cfg.model.backbone.get('clip_config')
    if clip_config is None:
        raise SystemExit(f'{args.config} sets no model.backbone.clip_config '
                         '(the architecture to pretrain).')
    preprocessor = cfg.model.data_preprocessor
    size = preprocessor.size[0]
    context_length = cfg.get('context_length', 16)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    clip = CLIPModel(CLIPConfig(**clip_config.to_dict()))
    optimizer = torch.optim.AdamW(clip.parameters(), lr=args.lr,
                                  weight_decay=0.1)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, args.lr, total_steps=args.steps, pct_start=0.1)
    captions = tokenize(all_captions(), context_length)
    retrieval = CaptionRetrieval(args.eval_images, size, preprocessor.mean,
                                 preprocessor.std, context_length)
    start, losses = time.perf_counter(), []
    clip.train()
    for step in range(1, args.steps + 1):
        images, labels = caption_batch(rng, args.batch_size, size)
        loss = clip(
            input_ids=captions['input_ids'][labels],
            attention_mask=captions['attention_mask'][labels],
            pixel_values=clip_pixels(images, preprocessor.mean,
                                     preprocessor.std),
            return_loss=True).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if step % 50 == 0 or step == args.steps:
            print(f'step {step}/{args.steps}  loss '
                  f'{np.mean(losses[-50:]):.4f}  '
                  f'{time.perf_counter() - start:.0f}s', flush=True)
    accuracy = retrieval.accuracy(clip)
    print(f'held-out image-to-caption accuracy: {accuracy:.2f}% '
          f'(chance {100 / len(all_captions()):.2f}%)')
    tmp = args.out.rstrip('/') + '.tmp'
    shutil.rmtree(tmp, ignore_errors=True)
    clip.save_pretrained(tmp)
    with open(osp.join(tmp, 'pretrain_log.json'), 'w') as f:
        json.dump(dict(config=args.config, steps=args.steps,
                       batch_size=args.batch_size, lr=args.lr,
                       seed=args.seed, final_loss=float(
                           np.mean(losses[-50:])),
                       retrieval_accuracy=accuracy,
                       eval_images=args.eval_images,
                       seconds=round(time.perf_counter() - start, 1)),
                  f, indent=2)
    shutil.rmtree(args.out, ignore_errors=True)
    os.replace(tmp, args.out)
    print(f'saved to {args.out}')


if __name__ == '__main__':
    main()
