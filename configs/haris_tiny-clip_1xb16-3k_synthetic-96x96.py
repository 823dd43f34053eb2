# The embedded demo: a tiny CLIP-architecture model trained from scratch on
# the synthetic referring scenes; minutes on 2 CPU cores. With random
# encoders there is nothing to preserve, so the encoders train fully
# (frozen=False, no adapters).
_base_ = [
    './_base_/models/haris_clip-vit-b16.py', './_base_/datasets/synthetic.py',
    './_base_/default_runtime.py',
    './_base_/schedules/schedule_synthetic_3k.py'
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
