"""Base class of all referring datasets."""
from typing import List

from mmengine.dataset import BaseDataset
from mmengine.logging import print_log


def group_by_image(refs: List[dict]) -> List[dict]:
    """The refs reordered so that those of one image (``img_path``) are
    consecutive; images keep the order of their first ref, and the refs
    of an image their order (a stable sort). Refs without ``img_path``
    stay where they are relative to the images."""
    keys = [ref.get('img_path') or ('ref', i) for i, ref in enumerate(refs)]
    first = {}
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    order = sorted(range(len(refs)), key=lambda i: first[keys[i]])
    return [refs[i] for i in order]


def log_target_counts(name: str, refs: List[dict]) -> None:
    """One log line with the number of no-target, single- and
    multi-target sentences, when the refs carry ``num_targets``."""
    if not any(r.get('num_targets') is not None for r in refs):
        return
    counts = dict.fromkeys(('no-target', 'single-target', 'multi-target',
                            'unknown'), 0)
    for ref in refs:
        num = ref.get('num_targets')
        kind = 'unknown' if num is None else ('no-target' if num == 0 else (
            'single-target' if num == 1 else 'multi-target'))
        counts[kind] += len(ref['sentences'])
    if not counts['unknown']:
        del counts['unknown']
    print_log(
        f'{name} sentences: ' + ', '.join(f'{n} {kind}'
                                          for kind, n in counts.items()),
        logger='current')


class ReferringDataset(BaseDataset):
    """A dataset of refs: one image region and its expressions.

    Subclasses implement :meth:`load_refs`, returning one dict per ref with
    at least ``img_path`` (or another image source), ``sentences`` (list of
    str), ``ref_id`` and a mask annotation ``mask_ann``, and optionally
    ``sent_ids``: the annotation's own id of each sentence (the refer
    toolkit's ``sent_id``). In training each ref is one sample and
    ``PickExpression`` draws one of its sentences every time the sample is
    drawn. For evaluation (``test_mode=True``, or
    ``expand_sentences=True``) every sentence of every ref is one sample,
    with ``sent_index`` (its position in the ref) and ``sent_id`` (its id
    from ``sent_ids``, None when the annotation has none).
    Generalized referring refs also carry ``no_target`` and
    ``num_targets`` (0 for no target); loading then logs how many
    sentences name no, one or several objects.
    In test mode the refs of one image are made consecutive (images in the
    order they first appear, refs of an image in file order), so a batch
    holds the sentences of few images and the model encodes each image
    once.

    Args:
        expand_sentences (bool, optional): One sample per sentence.
            Defaults to ``test_mode``.
        **kwargs: ``mmengine.dataset.BaseDataset`` arguments.
    """

    METAINFO = dict(classes=('background', 'referent'),
                    palette=[[0, 0, 0], [255, 64, 64]])

    def __init__(self, *args, expand_sentences=None, **kwargs) -> None:
        self.expand_sentences = expand_sentences
        super().__init__(*args, **kwargs)

    def load_refs(self) -> List[dict]:
        raise NotImplementedError

    def load_data_list(self) -> List[dict]:
        refs = self.load_refs()
        expand = self.test_mode if self.expand_sentences is None \
            else self.expand_sentences
        num_sentences = sum(len(r['sentences']) for r in refs)
        unit = 'sentence' if expand else 'ref'
        print_log(
            f'{type(self).__name__}: {len(refs)} refs, {num_sentences} '
            f'sentences, one sample per {unit}',
            logger='current')
        log_target_counts(getattr(self, 'name', type(self).__name__),
                          refs)
        if self.test_mode:
            refs = group_by_image(refs)
        if not expand:
            return refs
        data_list = []
        for ref in refs:
            ref = dict(ref)
            sent_ids = ref.pop('sent_ids', None) or [None] * len(
                ref['sentences'])
            for index, sentence in enumerate(ref['sentences']):
                data_list.append(
                    dict(
                        ref,
                        sentences=[sentence],
                        sent_index=index,
                        sent_id=sent_ids[index]))
        return data_list
