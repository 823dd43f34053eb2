# Demo schedule: 3k iterations, AdamW 5e-4 (tiny model from scratch).
max_iters = 3000
optim_wrapper = dict(
    type='OptimWrapper',
    # torch's default AdamW: fused=True is faster on CPU from torch 2.4 but
    # exists only for CUDA in older releases
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
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='TrainableCheckpointHook', by_epoch=False, interval=1000,
        max_keep_ckpts=3, save_best='mIoU', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # validation overlays (one batch in 20) in the work dir's vis_data;
    # tools/test.py --show-dir writes them for the test set
    visualization=dict(
        type='ReferringVisualizationHook', draw=True, interval=20))
log_processor = dict(by_epoch=False)
