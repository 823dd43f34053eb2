import math

import torch

from projects.haris.models.losses import BinaryDiceLoss, BinaryFocalLoss


def test_focal_matches_hand_computation():
    logits = torch.tensor([[[[0.0, 2.0], [-1.0, 3.0]]]])
    label = torch.tensor([[[1, 0], [255, 1]]])
    loss = BinaryFocalLoss(alpha=0.25, gamma=2.0)(logits, label)

    def term(x, y):
        p = 1 / (1 + math.exp(-x))
        pt = p if y else 1 - p
        a = 0.25 if y else 0.75
        return -a * (1 - pt)**2 * math.log(pt)

    expected = (term(0.0, 1) + term(2.0, 0) + term(3.0, 1)) / 3
    assert math.isclose(loss.item(), expected, rel_tol=1e-5)


def test_dice_matches_hand_computation_and_ignores():
    logits = torch.tensor([[[[0.0, 2.0], [-1.0, 3.0]]]])
    label = torch.tensor([[[1, 0], [255, 1]]])
    loss = BinaryDiceLoss(smooth=1.0, loss_weight=2.0)(logits, label)
    p = [1 / (1 + math.exp(-x)) for x in (0.0, 2.0, 3.0)]
    t = [1, 0, 1]
    inter = sum(a * b for a, b in zip(p, t))
    dice = (2 * inter + 1) / (sum(p) + sum(t) + 1)
    assert math.isclose(loss.item(), 2.0 * (1 - dice), rel_tol=1e-5)


def test_perfect_prediction_has_small_loss():
    label = torch.randint(0, 2, (2, 8, 8))
    logits = (label[:, None].float() * 2 - 1) * 20
    assert BinaryDiceLoss(smooth=0)(logits, label) < 1e-6
    assert BinaryFocalLoss()(logits, label) < 1e-8


def test_names():
    assert BinaryFocalLoss().loss_name == 'loss_focal'
    assert BinaryDiceLoss(loss_name='loss_x').loss_name == 'loss_x'
