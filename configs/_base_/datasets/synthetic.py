# Synthetic referring scenes, generated under data_root on first use.
dataset_type = 'SyntheticReferringDataset'
data_root = 'data/synthetic'
# `tools/test.py --splits all` evaluates these splits one after another.
test_splits = ['val', 'test']
image_size = 96
context_length = 16
train_pipeline = [
    dict(type='LoadReferringImage'),
    dict(type='LoadReferringMask'),
    dict(type='PickExpression'),
    dict(type='RandomFlipReferring', prob=0.5, direction='horizontal'),
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
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        num_samples=4000,
        image_size=image_size,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    # each process evaluates a contiguous block: an image's sentences stay
    # together and its vision pass is shared
    sampler=dict(type='ContiguousSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        num_samples=200,
        image_size=image_size,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = dict(
    val_dataloader, dataset=dict(val_dataloader['dataset'], split='test'))
val_evaluator = dict(type='RefSegMetric')
test_evaluator = val_evaluator
