import torch.nn as nn

from tools.analysis.parameter_count import parameter_table


class Backbone(nn.Module):

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 3)  # 4 * 3 + 3 = 15, frozen
        self.lora_A = nn.Linear(3, 2, bias=False)  # 3 * 2 = 6, an adapter
        self.proj.requires_grad_(False)


class Model(nn.Module):

    def __init__(self):
        super().__init__()
        self.backbone = Backbone()
        self.neck = nn.Linear(3, 2)  # 3 * 2 + 2 = 8
        self.decode_head = nn.Linear(2, 1)  # 2 * 1 + 1 = 3, bias frozen
        self.decode_head.bias.requires_grad_(False)


def test_counts_per_part_by_hand():
    assert parameter_table(Model()) == {
        'backbone': (21, 6),
        'backbone adapters': (6, 6),
        'neck': (8, 8),
        'decode_head': (3, 2),
        'total': (32, 16),
    }


def test_adapters_are_found_by_name_not_by_trainability():
    model = Model()
    model.backbone.lora_A.requires_grad_(False)  # merged or frozen adapter
    model.backbone.proj.requires_grad_(True)  # full fine-tuning
    table = parameter_table(model)
    assert table['backbone adapters'] == (6, 6)
    assert table['backbone'] == (21, 15)
