# G-Ref, UMD partition (train, val, test).
_base_ = ['./refcoco.py']
ann_file = 'refcocog/refs(umd).p'
instances_file = 'refcocog/instances.json'
test_splits = ['val', 'test']
files = dict(ann_file=ann_file, instances_file=instances_file)
train_dataloader = dict(dataset=files)
val_dataloader = dict(dataset=files)
test_dataloader = dict(dataset=files)
