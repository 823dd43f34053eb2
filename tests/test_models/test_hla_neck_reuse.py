"""The HLA neck in a model with a stock mmseg head (FCNHead)."""
import numpy as np
import torch
from mmengine.config import Config
from mmengine.structures import PixelData

from mmseg.registry import MODELS
from mmseg.structures import SegDataSample


def test_fcn_head_on_hla_neck_trains_and_predicts():
    cfg = Config.fromfile('configs/haris-hla-neck_fcn-head_synthetic.py')
    model = MODELS.build(cfg.model)
    assert type(model.decode_head).__name__ == 'FCNHead'
    sample = SegDataSample(metainfo=dict(
        ori_shape=(96, 96), img_shape=(96, 96),
        token_ids=np.array([49406, 736, 7117, 49407]),
        token_mask=np.ones(4, bool)))
    sample.gt_sem_seg = PixelData(data=torch.randint(0, 2, (1, 96, 96)))
    data = model.data_preprocessor(
        dict(inputs=[torch.zeros(3, 96, 96)], data_samples=[sample]), True)
    losses = model(**data, mode='loss')
    total = losses['decode.loss_focal'] + losses['decode.loss_dice']
    total.backward()
    assert model.neck.blocks[0].lwa.in_proj_weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        out = model(**data, mode='predict')
    assert out[0].pred_sem_seg.shape == (96, 96)
