import numpy as np
import pytest
import torch
from mmengine.structures import PixelData

from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from tests.tiny_models import tiny_model_cfg


def batch(shapes):
    inputs, samples = [], []
    for h, w in shapes:
        inputs.append(torch.randint(0, 255, (3, h, w)).float())
        s = SegDataSample(metainfo=dict(
            ori_shape=(h * 2, w * 2), img_shape=(h, w), text='red circle',
            token_ids=np.array([49406, 736, 7117, 49407, 0, 0]),
            token_mask=np.array([1, 1, 1, 1, 0, 0], bool)))
        s.gt_sem_seg = PixelData(data=torch.randint(0, 2, (1, h, w)))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def test_loss_and_predict_at_original_size():
    model = MODELS.build(tiny_model_cfg())
    data = model.data_preprocessor(batch([(64, 48), (40, 64)]), True)
    losses = model(**data, mode='loss')
    assert {'decode.loss_focal', 'decode.loss_dice'} <= set(losses)
    model.eval()
    data = model.data_preprocessor(batch([(64, 48), (40, 64)]), False)
    with torch.no_grad():
        out = model(**data, mode='predict')
    # padding removed, then resized to ori_shape (2x the input)
    assert out[0].pred_sem_seg.shape == (128, 96)
    assert out[1].pred_sem_seg.shape == (80, 128)
    probs = out[0].seg_logits.data
    assert probs.min() >= 0 and probs.max() <= 1
    assert torch.equal(out[0].pred_sem_seg.data, (probs > 0.5).to(probs))


def test_expression_changes_prediction():
    model = MODELS.build(tiny_model_cfg()).eval()
    data = model.data_preprocessor(batch([(64, 64)]), False)
    with torch.no_grad():
        a = model(**data, mode='tensor')
        data['data_samples'][0].set_metainfo(dict(
            token_ids=np.array([49406, 1746, 7117, 49407, 0, 0])))
        b = model(**data, mode='tensor')
    assert not torch.allclose(a, b)


def test_missing_tokens_is_a_clear_error():
    model = MODELS.build(tiny_model_cfg()).eval()
    with pytest.raises(KeyError, match='TokenizeExpression'):
        model(torch.zeros(1, 3, 64, 64), [SegDataSample()], mode='tensor')
