# HARIS, CLIP ViT-B/16 + LoRA, 4 GPUs x 8 images, 50 epochs, G-Ref (Google).
_base_ = [
    './_base_/models/haris_clip-vit-b16.py',
    './_base_/datasets/refcocog_google.py', './_base_/default_runtime.py',
    './_base_/schedules/schedule_50e.py'
]
