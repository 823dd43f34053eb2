# The embedded demo: a tiny CLIP-architecture model trained from scratch on
# the synthetic referring scenes; minutes on 2 CPU cores. With random
# encoders there is nothing to preserve, so the encoders train fully
# (frozen=False, no adapters).
_base_ = [
    './_base_/models/haris_tiny-clip.py', './_base_/datasets/synthetic.py',
    './_base_/default_runtime.py',
    './_base_/schedules/schedule_synthetic_3k.py'
]
model = dict(backbone=dict(frozen=False, peft_cfg=None))
