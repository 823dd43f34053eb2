# The HLA neck in another model: mmseg's plain FCNHead on the neck's
# shallowest fused map (in_index=0) instead of HARIS's query decoder.
_base_ = ['./haris_tiny-clip_1xb16-3k_synthetic-96x96.py']
model = dict(
    decode_head=dict(
        _delete_=True,
        type='FCNHead',
        in_channels=64,
        in_index=0,
        channels=64,
        num_convs=2,
        concat_input=False,
        num_classes=2,
        out_channels=1,
        threshold=0.5,
        norm_cfg=dict(type='GN', num_groups=8),
        loss_decode=[
            dict(type='BinaryFocalLoss', loss_weight=20.0),
            dict(type='BinaryDiceLoss', loss_weight=1.0),
        ]))
