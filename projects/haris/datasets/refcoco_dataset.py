"""RefCOCO, RefCOCO+ and G-Ref in the refer toolkit's own files."""
import json
import logging
import os.path as osp
import pickle
import re
from typing import Dict, List

from mmengine.logging import print_log

from mmseg.registry import DATASETS
from .referring_dataset import ReferringDataset
from .transforms.expression import log_truncated_sentences

PREPARE = 'see docs/dataset_prepare.md'

# Published numbers of refs per split, keyed by (folder, refs file).
OFFICIAL_REF_COUNTS = {
    ('refcoco', 'refs(unc).p'):
    dict(train=42404, val=3811, testA=1975, testB=1810),
    ('refcoco+', 'refs(unc).p'):
    dict(train=42278, val=3805, testA=1975, testB=1798),
    ('refcocog', 'refs(umd).p'): dict(train=42226, val=2573, test=5023),
    ('refcocog', 'refs(google).p'): dict(train=44822, val=5000),
}


def official_count(ann_file: str, split: str):
    """The published number of refs of this file's split, if known."""
    key = (osp.basename(osp.dirname(ann_file)), osp.basename(ann_file))
    return OFFICIAL_REF_COUNTS.get(key, {}).get(split)


@DATASETS.register_module()
class RefCocoDataset(ReferringDataset):
    """RefCOCO / RefCOCO+ (``refs(unc).p``), G-Ref (``refs(umd).p``,
    ``refs(google).p``) over COCO train2014.

    Reads the pickled refs list and COCO ``instances.json`` directly; masks
    are the referred annotation's polygons or RLE (decoded by pycocotools in
    ``LoadReferringMask``).

    Loading logs one line with the number of sentences longer than the
    pipeline's ``TokenizeExpression.context_length`` (long G-Ref sentences
    are truncated), instead of one warning per sentence.

    Args:
        data_root (str): Root that the paths below are relative to,
            e.g. 'data'.
        ann_file (str): The refs pickle, e.g. 'refcoco/refs(unc).p'.
        instances_file (str): COCO instances json, e.g.
            'refcoco/instances.json'.
        data_prefix (dict): ``img_path``: the train2014 image folder, e.g.
            'coco/train2014'.
        split (str): A split present in the refs file (train, val, testA,
            testB, test).
        sentence_key (str): 'sent' (the toolkit's cleaned text) or 'raw'.
            Defaults to 'sent'.
        **kwargs: ``ReferringDataset`` arguments.
    """

    def __init__(self,
                 split: str,
                 ann_file: str,
                 instances_file: str,
                 sentence_key: str = 'sent',
                 **kwargs) -> None:
        self.split = split
        self.instances_file = instances_file
        self.sentence_key = sentence_key
        super().__init__(ann_file=ann_file, **kwargs)

    @property
    def name(self) -> str:
        """E.g. 'RefCocoDataset(refcocog, umd, val)'."""
        folder = osp.basename(osp.dirname(self.ann_file))
        partition = re.fullmatch(r'g?refs\((.+)\)\.(?:p|json)',
                                 osp.basename(self.ann_file))
        parts = [folder] + ([partition.group(1)] if partition else []) + [
            self.split
        ]
        return f'{type(self).__name__}({", ".join(parts)})'

    def read_refs(self) -> List[dict]:
        """The list of refs in ``ann_file`` (a pickle)."""
        with open(self.ann_file, 'rb') as f:
            return pickle.load(f)

    def where(self, ref: dict) -> str:
        """Where a ref is, for error messages."""
        return f'ref {ref.get("ref_id")} of {self.ann_file}'

    def ref_record(self, ref: dict, anns: Dict[int, dict]) -> dict:
        """What a ref adds to its image path, sentences and ids: here the
        mask annotation of its one referred object."""
        if ref['ann_id'] not in anns:
            raise KeyError(
                f'{self.where(ref)} refers to annotation {ref["ann_id"]} '
                f'that the instances file {self.instances_file} does not '
                'have; use the instances.json released with these refs.')
        ann = anns[ref['ann_id']]
        return dict(
            mask_ann=dict(
                type='coco',
                segmentation=ann['segmentation'],
                source=f'ann {ann["id"]}'))

    def load_refs(self) -> List[dict]:
        instances_file = osp.join(self.data_root, self.instances_file)
        for path in (self.ann_file, instances_file):
            if not osp.isfile(path):
                raise FileNotFoundError(f'{path} not found; {PREPARE}.')
        refs = self.read_refs()
        with open(instances_file) as f:
            instances = json.load(f)
        splits = sorted({r['split'] for r in refs})
        if self.split not in splits:
            raise ValueError(f'Split {self.split!r} is not in '
                             f'{self.ann_file}; it has {splits}.')
        images = {img['id']: img for img in instances['images']}
        anns = {ann['id']: ann for ann in instances['annotations']}
        img_dir = self.data_prefix.get('img_path', '')
        out = []
        for ref in refs:
            if ref['split'] != self.split:
                continue
            if ref['image_id'] not in images:
                raise KeyError(
                    f'{self.where(ref)} is on image {ref["image_id"]} that '
                    f'the instances file {self.instances_file} does not '
                    'have; use the instances.json released with these '
                    'refs.')
            image = images[ref['image_id']]
            out.append(
                dict(
                    img_path=osp.join(img_dir, image['file_name']),
                    sentences=[s[self.sentence_key]
                               for s in ref['sentences']],
                    # the toolkit's sentence ids (unique in the file)
                    sent_ids=[s.get('sent_id') for s in ref['sentences']],
                    ref_id=ref['ref_id'],
                    **self.ref_record(ref, anns)))
        expected = official_count(self.ann_file, self.split)
        if expected is not None and expected != len(out):
            print_log(
                f'{self.ann_file} split {self.split} has {len(out)} refs; the '
                f'published count is {expected}. Is the file complete?',
                logger='current', level=logging.WARNING)
        log_truncated_sentences(self.name,
                                [s for ref in out for s in ref['sentences']],
                                self.pipeline.transforms)
        return out
