# HARIS with CLIP ViT-B/16 (vision + text) and LoRA adapters.
data_preprocessor = dict(
    type='ReferringDataPreProcessor',
    # CLIP's normalisation, on 0-255 pixels.
    mean=[122.771, 116.746, 104.094],
    std=[68.501, 66.632, 70.323],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(416, 416))
model = dict(
    type='ReferringSegmentor',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='HFCLIPBackbone',
        # hub id or local directory saved with save_pretrained
        pretrained='openai/clip-vit-base-patch16',
        out_indices=(4, 8, 12),
        frozen=True,
        # peft_cfg defaults to the paper's LoRA (DEFAULT_PEFT in
        # models/backbones/adapted_clip_base.py); a dict of peft config
        # fields replaces it, None trains without adapters.
    ),
    neck=dict(
        type='HLANeck',
        in_channels=[768, 768, 768],
        text_channels=512,
        dim=256,
        num_heads=8,
        feedback=True,
        vwa=True,
        # levels fused with the text, deepest first: None = all (the
        # paper); 1 fuses only the deepest, the shallower ones pass their
        # image-only maps on (with pixel_embeddings='image' below;
        # benchmarks/inference_breakdown.py)
        text_levels=None),
    decode_head=dict(
        type='QueryDecodeHead',
        in_channels=256,
        channels=256,
        num_levels=3,
        num_upsample=2,
        # pixel decoder stage order: conv then x2 upsample (False) or
        # x2 upsample then conv (True); benchmarks/pixel_decoder_order.py
        upsample_first=False,
        # what the pixel decoder upsamples: the fused maps, one pixel map
        # per sentence ('fused', the paper), or the image-only maps, once
        # per image ('image'; faster with many sentences per image,
        # benchmarks/inference_breakdown.py; train and test alike)
        pixel_embeddings='fused',
        num_layers=3,
        num_heads=8,
        aux_loss=False,
        threshold=0.5,
        dropout_ratio=0.0,
        loss_decode=[
            dict(type='BinaryFocalLoss', alpha=0.25, gamma=2.0,
                 loss_weight=20.0),
            dict(type='BinaryDiceLoss', loss_weight=1.0),
        ]),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
