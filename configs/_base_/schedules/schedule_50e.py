# The field's recipe: AdamW 1e-4, weight decay 0.01, 50 epochs, poly decay.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.01),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='PolyLR', eta_min=0, power=0.9, by_epoch=True, begin=1,
         end=50, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=50, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=True),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # checkpoints hold what trains; the frozen CLIP weights reload from
    # model.backbone.pretrained (save_frozen=True writes full checkpoints)
    checkpoint=dict(
        type='TrainableCheckpointHook', by_epoch=True, interval=5,
        max_keep_ckpts=3, save_best='mIoU', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='ReferringVisualizationHook'))
log_processor = dict(by_epoch=True)
# Batch 32 over GPUs (4 x 8); with another total batch, mmengine rescales the
# lr linearly when run with --cfg-options auto_scale_lr.enable=True.
auto_scale_lr = dict(enable=False, base_batch_size=32)
