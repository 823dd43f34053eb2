"""gRefCOCO (generalized referring expressions) in its own files."""
import json
import pickle
from typing import Dict, List

from mmseg.registry import DATASETS
from .refcoco_dataset import RefCocoDataset

NO_TARGET_ANN_IDS = [-1]


@DATASETS.register_module()
class GRefCocoDataset(RefCocoDataset):
    """gRefCOCO (ReLA, CVPR 2023): referring expressions over COCO
    train2014 that name one object, several objects or none.

    Reads ``grefs(unc).json`` (a JSON list of refs; a pickled
    ``grefs(unc).p`` when that is the ``ann_file``) and COCO
    ``instances.json``, as ``RefCocoDataset`` reads the refer files. A
    ref's ``ann_id`` is a list of annotation ids; ``[-1]`` means the
    expressions name nothing. The mask is the union of the ref's
    annotations without crowd annotations (``iscrowd=1``), as ReLA builds
    it; a no-target ref has an all-zero mask. Every sample carries
    ``no_target`` and ``num_targets`` (0 for no target, else the number of
    referred annotations, crowd ones included) for the model and
    ``GRefSegMetric``; loading logs the number of no-target, single- and
    multi-target sentences.

    Some releases also give a ref a boolean ``no_target``; when it
    contradicts ``ann_id`` loading stops with an error naming the ref.

    Args:
        data_root (str): Root that the paths below are relative to,
            e.g. 'data'.
        ann_file (str): The refs file, e.g. 'grefcoco/grefs(unc).json'.
        instances_file (str): COCO instances json, e.g.
            'grefcoco/instances.json'.
        data_prefix (dict): ``img_path``: the train2014 image folder, e.g.
            'coco/train2014'.
        split (str): 'train', 'val', 'testA' or 'testB'.
        sentence_key (str): 'sent' (cleaned text) or 'raw'. Defaults to
            'sent'.
        **kwargs: ``ReferringDataset`` arguments.
    """

    def read_refs(self) -> List[dict]:
        """The refs of ``grefs(*).json``, or of a pickle (``.p``)."""
        if self.ann_file.endswith('.p'):
            with open(self.ann_file, 'rb') as f:
                return pickle.load(f)
        with open(self.ann_file, encoding='utf-8') as f:
            return json.load(f)

    def ref_record(self, ref: dict, anns: Dict[int, dict]) -> dict:
        ann_ids = ref['ann_id']
        ann_ids = list(ann_ids) if isinstance(ann_ids, (list, tuple)) \
            else [ann_ids]
        where = f'ref {ref["ref_id"]} of {self.ann_file}'
        no_target = ann_ids == NO_TARGET_ANN_IDS
        if not no_target and (-1 in ann_ids or not ann_ids):
            raise ValueError(
                f'{where} has ann_id {ann_ids}: give [-1] alone for an '
                'expression that names nothing, else annotation ids.')
        flag = ref.get('no_target')
        if flag is not None and bool(flag) != no_target:
            raise ValueError(
                f'{where} says no_target={flag} but its ann_id is '
                f'{ann_ids}; the two must agree (ann_id [-1] is no '
                'target). Fix the ref or use an unmodified release.')
        missing = [i for i in ann_ids if i != -1 and i not in anns]
        if missing:
            raise KeyError(
                f'{where} refers to annotations {missing} that the '
                f'instances file {self.instances_file} does not have; use '
                'the instances.json released with these refs.')
        parts = [] if no_target else [
            dict(
                type='coco',
                segmentation=anns[i]['segmentation'],
                source=f'ann {i}') for i in ann_ids
            if not anns[i].get('iscrowd', 0)
        ]
        return dict(
            mask_ann=dict(
                type='union',
                parts=parts,
                source=f'ref {ref["ref_id"]} (ann {ann_ids})'),
            no_target=no_target,
            num_targets=0 if no_target else len(set(ann_ids)))
