# gRefCOCO (generalized referring expressions: one, several or no object)
# in its own files over COCO train2014; see docs/dataset_prepare.md.
_base_ = ['./refcoco.py']
dataset_type = 'GRefCocoDataset'
ann_file = 'grefcoco/grefs(unc).json'
instances_file = 'grefcoco/instances.json'
# `tools/test.py --splits all` evaluates these splits one after another.
test_splits = ['val', 'testA', 'testB']
train_dataloader = dict(
    dataset=dict(
        type=dataset_type, ann_file=ann_file, instances_file=instances_file))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type, ann_file=ann_file, instances_file=instances_file))
test_dataloader = val_dataloader
# gIoU, cIoU, N-acc, T-acc, Pr@0.7/0.8/0.9 as ReLA's evaluator computes them
val_evaluator = dict(_delete_=True, type='GRefSegMetric')
test_evaluator = val_evaluator
