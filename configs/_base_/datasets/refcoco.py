# RefCOCO (UNC splits) in the refer toolkit's files over COCO train2014.
dataset_type = 'RefCocoDataset'
data_root = 'data'
ann_file = 'refcoco/refs(unc).p'
instances_file = 'refcoco/instances.json'
img_prefix = 'coco/train2014'
# `tools/test.py --splits all` evaluates these splits one after another.
test_splits = ['val', 'testA', 'testB']
image_size = 416
context_length = 22
train_pipeline = [
    dict(type='LoadReferringImage'),
    dict(type='LoadReferringMask'),
    dict(type='PickExpression'),
    # Horizontal flips swap left/right in the text; off, as in the field.
    dict(type='RandomFlipReferring', prob=0.0, direction='horizontal'),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='TokenizeExpression', context_length=context_length),
    dict(type='PackReferringInputs'),
]
test_pipeline = [
    dict(type='LoadReferringImage'),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='LoadReferringMask'),
    dict(type='PickExpression'),
    dict(type='TokenizeExpression', context_length=context_length),
    dict(type='PackReferringInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    # images shuffled per epoch, the refs of an image in one batch where
    # they fit: the model encodes the image once for them (about 2.5 refs
    # per image in RefCOCO). Each ref still comes once per epoch. For
    # mmengine's per-ref shuffling: sampler=dict(type='DefaultSampler',
    # shuffle=True) and batch_sampler=None.
    sampler=dict(type='ImageGroupedSampler', shuffle=True),
    batch_sampler=dict(type='ImageGroupedBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=ann_file,
        instances_file=instances_file,
        data_prefix=dict(img_path=img_prefix),
        split='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    # each process evaluates a contiguous block: an image's sentences stay
    # together and its vision pass is shared
    sampler=dict(type='ContiguousSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=ann_file,
        instances_file=instances_file,
        data_prefix=dict(img_path=img_prefix),
        split='val',
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# Plain keys at the model's threshold (decode_head.threshold, 0.5: LAVT's
# protocol); '@0.35' keys at sigmoid > 0.35 (the CRIS/ETRIS protocol).
val_evaluator = dict(type='RefSegMetric', thresholds=(None, 0.35))
test_evaluator = val_evaluator
