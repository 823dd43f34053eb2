"""HARIS: Human-Like Attention for Referring Image Segmentation.

Importing this package registers every component in mmseg's registries
and changes nothing else.
"""
from .apis import *  # noqa: F401,F403
from .datasets import *  # noqa: F401,F403
from .engine import *  # noqa: F401,F403
from .evaluation import *  # noqa: F401,F403
from .models import *  # noqa: F401,F403
from .visualization import *  # noqa: F401,F403
