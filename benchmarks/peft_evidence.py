"""Does freezing CLIP and training adapters keep what CLIP knew, and what
does it cost in accuracy?

1. Pretrain a small CLIP contrastively on synthetic captions
   (tools/pretrain_clip.py; saved with save_pretrained).
2. Train HARIS on it three ways: (a) frozen + LoRA, (b) fully fine-tuned,
   (c) frozen without adapters; validation mIoU and trainable parameters.
3. Zero-shot image-to-caption retrieval of the encoders on held-out
   synthetic images before and after: (a) with adapters disabled (must
   equal the pretrained model) and merged, (b), (c).

Usage: python benchmarks/peft_evidence.py [--iters 500] [--pretrain-steps 600]
"""
import argparse
import json
import os.path as osp
import subprocess
import sys

from common import ROOT, write_result
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from training_runs import run_trainings, schedule_options

from mmseg.registry import MODELS
from projects.haris.models.backbones.clip_backbone import build_clip
from tools.clip_pretraining.caption_retrieval import CaptionRetrieval

WORK = osp.join(ROOT, 'work_dirs', 'peft_evidence')
CONFIG = 'configs/haris_tiny-clip-pretrained-lora_1xb16-3k_synthetic-96x96.py'
ARMS = {
    '(a) frozen + LoRA': [],
    '(b) full fine-tuning': ['model.backbone.frozen=False',
                             'model.backbone.peft_cfg=None'],
    '(c) frozen, no adapters': ['model.backbone.peft_cfg=None'],
}


def trained_model(work_dir, iters):
    cfg = Config.fromfile(osp.join(work_dir, osp.basename(CONFIG)))
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    load_checkpoint(model, osp.join(work_dir, f'iter_{iters}.pth'),
                    map_location='cpu', strict=True, logger='silent')
    return model.eval()


def count_trainable(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def pretrain(clip_dir, steps, eval_images):
    """tools/pretrain_clip.py into ``clip_dir``; returns its log."""
    subprocess.run([
        sys.executable, 'tools/pretrain_clip.py', 'configs/haris_synthetic.py',
        '--out', clip_dir, '--steps', str(steps), '--eval-images',
        str(eval_images), '--overwrite'
    ], cwd=ROOT, check=True)
    return json.load(open(osp.join(clip_dir, 'pretrain_log.json')))


def peft_jobs(clip_dir, iters):
    """One tools/train.py job per arm, on the pretrained CLIP."""
    return [
        dict(name=name, config=CONFIG,
             work_dir=osp.join(WORK, name.split(')')[0][1:]),
             options=[f'model.backbone.pretrained={clip_dir}'] + options +
             schedule_options(iters))
        for name, options in ARMS.items()
    ]


def write_peft(jobs, finals, iters, clip_dir, pretrain_log, eval_images):
    """Retrieval before/after for each trained arm; writes the JSON."""
    cfg = Config.fromfile(osp.join(ROOT, CONFIG))
    pre = cfg.model.data_preprocessor
    retrieval = CaptionRetrieval(eval_images, pre.size[0], pre.mean,
                                 pre.std, cfg.context_length)
    original = build_clip(clip_dir, None)
    before = retrieval.logits(original)
    arms = {}
    for job, val in zip(jobs, finals):
        model = trained_model(job['work_dir'], iters)
        backbone = model.backbone
        arm = dict(trainable=count_trainable(model),
                   trainable_backbone=count_trainable(backbone),
                   mIoU=val['mIoU'], oIoU=val['oIoU'],
                   train_seconds=val['seconds'],
                   retrieval=retrieval.accuracy(backbone.clip))
        if job['name'].startswith('(a)'):
            backbone.set_adapters_enabled(False)
            arm['retrieval_adapters_disabled'] = retrieval.accuracy(
                backbone.clip)
            arm['max_logit_change_adapters_disabled'] = (
                retrieval.logits(backbone.clip) - before).abs().max().item()
            backbone.set_adapters_enabled(True)
            backbone.merge_adapters()
            arm['retrieval_merged'] = retrieval.accuracy(backbone.clip)
        else:
            arm['max_logit_change'] = (retrieval.logits(backbone.clip) -
                                       before).abs().max().item()
        arms[job['name']] = arm
    write_result('peft_evidence', dict(
        iters=iters, pretrain=pretrain_log,
        retrieval_before=retrieval.accuracy(original),
        eval_images=eval_images, chance=round(100 / 96, 2), arms=arms))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--iters', type=int, default=500)
    parser.add_argument('--pretrain-steps', type=int, default=600)
    parser.add_argument('--eval-images', type=int, default=480)
    args = parser.parse_args()
    clip_dir = osp.join(WORK, 'tiny_clip')
    log = pretrain(clip_dir, args.pretrain_steps, args.eval_images)
    jobs = peft_jobs(clip_dir, args.iters)
    write_peft(jobs, run_trainings(jobs), args.iters, clip_dir, log,
               args.eval_images)


if __name__ == '__main__':
    main()
