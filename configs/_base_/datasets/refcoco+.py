# RefCOCO+ (UNC splits: train, val, testA, testB).
_base_ = ['./refcoco.py']
ann_file = 'refcoco+/refs(unc).p'
instances_file = 'refcoco+/instances.json'
files = dict(ann_file=ann_file, instances_file=instances_file)
train_dataloader = dict(dataset=files)
val_dataloader = dict(dataset=files)
test_dataloader = dict(dataset=files)
