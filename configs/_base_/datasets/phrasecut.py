# PhraseCut test split, for zero-shot evaluation (no training data).
_base_ = ['./refcoco.py']
# One test file, no split argument: --splits does not apply.
test_splits = None
phrasecut_test = dict(
    _delete_=True,
    type='PhraseCutDataset',
    data_root='data',
    ann_file='phrasecut/refer_test.json',
    data_prefix=dict(img_path='phrasecut/images'),
    # Masks as PhraseCut's evaluator rasterises them ('coco': pycocotools).
    rasterizer='phrasecut',
    test_mode=True,
    pipeline={{_base_.test_pipeline}})
train_dataloader = None
val_dataloader = None
val_evaluator = None
test_dataloader = dict(dataset=phrasecut_test)
