import pytest
import torch
from mmengine.registry import init_default_scope

import projects.haris  # noqa: F401  (registers everything)
# in CI (CI=true) a skip not listed in tests/allowed_skips.py fails the run
from tests.allowed_skips import (pytest_sessionfinish,  # noqa: F401
                                 pytest_terminal_summary)

init_default_scope('mmseg')


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
