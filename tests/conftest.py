import pytest
import torch
from mmengine.registry import init_default_scope

import projects.haris  # noqa: F401  (registers everything)

init_default_scope('mmseg')


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
