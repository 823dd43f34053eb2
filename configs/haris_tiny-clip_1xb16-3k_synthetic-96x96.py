# The embedded demo: a tiny CLIP-architecture model trained from scratch on
# the synthetic referring scenes; minutes on 2 CPU cores. With random
# encoders there is nothing to preserve, so the encoders train fully
# (frozen=False, no adapters).
_base_ = [
    './_base_/models/haris_clip-vit-b16.py', './_base_/datasets/synthetic.py',
    './_base_/default_runtime.py'
]
tiny_clip = dict(
    projection_dim=64,
    text_config=dict(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=3,
        num_attention_heads=4,
        vocab_size=49408,
        max_position_embeddings=77),
    vision_config=dict(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=3,
        num_attention_heads=4,
        image_size=96,
        patch_size=8))
model = dict(
    data_preprocessor=dict(size=(96, 96)),
    backbone=dict(
        pretrained=None,
        clip_config=tiny_clip,
        out_indices=(1, 2, 3),
        frozen=False,
        peft_cfg=None),
    neck=dict(in_channels=[64, 64, 64], text_channels=64, dim=64,
              num_heads=4),
    decode_head=dict(
        in_channels=64,
        channels=64,
        num_upsample=1,
        num_layers=2,
        num_heads=4,
        norm_cfg=dict(type='GN', num_groups=8)))

max_iters = 3000
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=5e-4, weight_decay=0.01),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=200),
    dict(type='PolyLR', eta_min=0, power=0.9, by_epoch=False, begin=200,
         end=max_iters),
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=500)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    checkpoint=dict(interval=1000, save_best='mIoU', rule='greater'),
    visualization=dict(interval=20))
