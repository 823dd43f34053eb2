from .gref_seg_metric import GRefSegMetric
from .ref_seg_metric import RefSegMetric

__all__ = ['GRefSegMetric', 'RefSegMetric']
