"""Tiny model settings shared by the tests."""

TINY_CLIP = dict(
    projection_dim=32,
    text_config=dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        vocab_size=49408,
        max_position_embeddings=77),
    vision_config=dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=32,
        patch_size=8))


def tiny_model_cfg(**backbone):
    """A tiny HARIS (32-wide CLIP, 2 layers, D=32)."""
    return dict(
        type='ReferringSegmentor',
        data_preprocessor=dict(
            type='ReferringDataPreProcessor',
            mean=[122.771, 116.746, 104.094],
            std=[68.501, 66.632, 70.323],
            bgr_to_rgb=True,
            pad_val=0,
            seg_pad_val=255,
            size=(64, 64)),
        backbone=dict(
            type='HFCLIPBackbone',
            clip_config=TINY_CLIP,
            out_indices=(1, 2, 2),
            **backbone),
        neck=dict(
            type='HLANeck', in_channels=[32] * 3, text_channels=32, dim=32,
            num_heads=4),
        decode_head=dict(
            type='QueryDecodeHead',
            in_channels=32,
            channels=32,
            num_upsample=1,
            num_layers=2,
            num_heads=4,
            norm_cfg=dict(type='GN', num_groups=8),
            loss_decode=[
                dict(type='BinaryFocalLoss', loss_weight=20.0),
                dict(type='BinaryDiceLoss')
            ]),
        train_cfg=dict(),
        test_cfg=dict(mode='whole'))
