# HARIS at demo scale: a CLIP of the ViT-B/16 layout shrunk to 64 channels,
# 3 layers and 8-pixel patches for 96x96 synthetic scenes. Built from this
# config (random weights) unless `backbone.pretrained` names a saved model.
_base_ = ['./haris_clip-vit-b16.py']
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
        pretrained=None, clip_config=tiny_clip, out_indices=(1, 2, 3)),
    neck=dict(in_channels=[64, 64, 64], text_channels=64, dim=64,
              num_heads=4),
    decode_head=dict(
        in_channels=64,
        channels=64,
        num_upsample=1,
        num_layers=2,
        num_heads=4,
        norm_cfg=dict(type='GN', num_groups=8)))
