# Synthetic scenes whose expressions may name no shape or several shapes
# (generalized referring segmentation), generated under data_root on first
# use in folders of their own.
_base_ = ['./synthetic.py']
generalized_data = dict(
    generalized=True, no_target_ratio=0.1, multi_target_ratio=0.25)
train_dataloader = dict(dataset=generalized_data)
val_dataloader = dict(dataset=generalized_data)
test_dataloader = dict(dataset=generalized_data)
val_evaluator = dict(_delete_=True, type='GRefSegMetric')
test_evaluator = val_evaluator
