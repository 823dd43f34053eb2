# G-Ref, Google partition (train, val).
_base_ = ['./refcoco.py']
ann_file = 'refcocog/refs(google).p'
instances_file = 'refcocog/instances.json'
test_splits = ['val']
files = dict(ann_file=ann_file, instances_file=instances_file)
train_dataloader = dict(dataset=files)
val_dataloader = dict(dataset=files)
test_dataloader = dict(dataset=files)
