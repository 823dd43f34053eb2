# Zero-shot PhraseCut test of a RefCOCO-trained HARIS:
#   tools/test.py configs/haris_phrasecut.py <refcoco checkpoint>
_base_ = [
    './_base_/models/haris_clip-vit-b16.py', './_base_/datasets/phrasecut.py',
    './_base_/default_runtime.py', './_base_/schedules/schedule_50e.py'
]
# test only
train_cfg = None
val_cfg = None
optim_wrapper = None
param_scheduler = None
