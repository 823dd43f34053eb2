# HARIS for generalized referring segmentation (no-target and multi-target
# expressions): CLIP ViT-B/16 + LoRA with the no-target output, 4 GPUs x 8
# images, 50 epochs, gRefCOCO.
_base_ = [
    './_base_/models/haris_clip-vit-b16.py', './_base_/datasets/grefcoco.py',
    './_base_/default_runtime.py', './_base_/schedules/schedule_50e.py'
]
model = dict(decode_head=dict(no_target=True))
default_hooks = dict(checkpoint=dict(save_best='gIoU'))
