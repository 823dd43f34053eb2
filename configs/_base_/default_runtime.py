default_scope = 'mmseg'
custom_imports = dict(imports=['projects.haris'], allow_failed_imports=False)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
# Optional TensorBoard: vis_backends.append(dict(type='TensorboardVisBackend'))
visualizer = dict(
    type='ReferringVisualizer', vis_backends=vis_backends, name='visualizer')
log_level = 'INFO'
load_from = None
resume = False
# No test-time augmentation: tools/test.py stops when one is set (mmseg's
# SegTTAModel does not fit referring segmentation; see README).
tta_model = None
randomness = dict(seed=0)
custom_hooks = [dict(type='FiniteLossHook'), dict(type='RngStateHook')]
