"""Pack a referring sample for the model."""
from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS

REFERRING_META_KEYS = ('img_path', 'ori_shape', 'img_shape', 'pad_shape',
                       'scale_factor', 'flip', 'flip_direction', 'text',
                       'token_ids', 'token_mask', 'ref_id', 'sent_id',
                       'sent_index', 'sample_idx', 'no_target',
                       'num_targets')


@TRANSFORMS.register_module()
class PackReferringInputs(PackSegInputs):
    """``PackSegInputs`` whose metainfo keeps the expression: its text,
    ``token_ids``/``token_mask`` (what the segmentor reads), the ref and
    sentence ids, the sentence's position in its ref and the dataset index
    ``sample_idx`` (what the metric's per-sentence output uses) and, for
    generalized referring data, the ``no_target`` flag and
    ``num_targets``. Keys a sample lacks are skipped, as in
    ``PackSegInputs``."""

    def __init__(self, meta_keys=REFERRING_META_KEYS):
        super().__init__(meta_keys=meta_keys)
