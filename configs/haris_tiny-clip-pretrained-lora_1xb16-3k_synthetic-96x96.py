# HARIS on a small CLIP pretrained contrastively on synthetic captions
# (tools/pretrain_clip.py), frozen with the default LoRA adapters: the
# paper's recipe at demo scale. Pretrain first:
#   python tools/pretrain_clip.py configs/haris_synthetic.py \
#       --out work_dirs/tiny_clip
_base_ = [
    './_base_/models/haris_tiny-clip.py', './_base_/datasets/synthetic.py',
    './_base_/default_runtime.py',
    './_base_/schedules/schedule_synthetic_3k.py'
]
model = dict(backbone=dict(pretrained='work_dirs/tiny_clip', clip_config=None))
