"""Check prepared benchmark folders and report what is missing.

Example:
    python tools/check_data.py --data-root data
Prints, for each benchmark, whether its files are there, the number of refs
and sentences per split against the published counts, and how many images
referred to are missing.
"""
import argparse
import json
import os.path as osp
import pickle
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from projects.haris.datasets.refcoco_dataset import \
    OFFICIAL_REF_COUNTS  # noqa: E402

COCO_IMAGES = 'coco/train2014'


def check_refcoco(root, folder, refs_file):
    ann = osp.join(root, folder, refs_file)
    inst = osp.join(root, folder, 'instances.json')
    missing = [p for p in (ann, inst) if not osp.isfile(p)]
    if missing:
        return False, [f'missing {p}' for p in missing]
    if refs_file.endswith('.json'):
        with open(ann, encoding='utf-8') as f:
            refs = json.load(f)
    else:
        with open(ann, 'rb') as f:
            refs = pickle.load(f)
    with open(inst) as f:
        images = {i['id']: i['file_name'] for i in json.load(f)['images']}
    lines, ok = [], True
    expected = OFFICIAL_REF_COUNTS.get((folder, refs_file), {})
    for split in sorted({r['split'] for r in refs}):
        in_split = [r for r in refs if r['split'] == split]
        sentences = sum(len(r['sentences']) for r in in_split)
        want = expected.get(split)
        flag = '' if want in (None, len(in_split)) else \
            f'  <-- published: {want}'
        ok &= not flag
        kinds = ''
        if isinstance(in_split[0]['ann_id'], list):  # gRefCOCO
            kinds = ', sentences of no-target/multi-target refs: ' + '/'.join(
                str(sum(len(r['sentences']) for r in in_split
                        if test(r['ann_id'])))
                for test in (lambda a: a == [-1], lambda a: len(a) > 1))
        lines.append(f'{split}: {len(in_split)} refs, {sentences} '
                     f'sentences{kinds}{flag}')
    names = {images[r['image_id']] for r in refs}
    absent = [n for n in names
              if not osp.isfile(osp.join(root, COCO_IMAGES, n))]
    ok &= not absent
    lines.append(f'images: {len(names) - len(absent)}/{len(names)} found in '
                 f'{osp.join(root, COCO_IMAGES)}')
    return ok, lines


def check_phrasecut(root):
    lines, ok = [], True
    for split in ('train', 'val', 'test'):
        path = osp.join(root, 'phrasecut', f'refer_{split}.json')
        if not osp.isfile(path):
            lines.append(f'missing {path}')
            ok &= split != 'test'  # only the test split is needed
            continue
        with open(path) as f:
            tasks = json.load(f)
        absent = sum(not osp.isfile(
            osp.join(root, 'phrasecut', 'images', f'{t["image_id"]}.jpg'))
            for t in tasks)
        ok &= not absent
        lines.append(f'{split}: {len(tasks)} phrases, {absent} images '
                     'missing')
    return ok, lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default='data')
    args = parser.parse_args()
    checks = {
        f'{folder} {refs}': (check_refcoco, (args.data_root, folder, refs))
        for folder, refs in OFFICIAL_REF_COUNTS
    }
    checks['grefcoco grefs(unc).json'] = (
        check_refcoco, (args.data_root, 'grefcoco', 'grefs(unc).json'))
    checks['phrasecut'] = (check_phrasecut, (args.data_root, ))
    all_ok = True
    for name, (fn, fn_args) in checks.items():
        ok, lines = fn(*fn_args)
        all_ok &= ok
        print(f'[{"ok" if ok else "!!"}] {name}')
        for line in lines:
            print(f'     {line}')
    print('See docs/dataset_prepare.md for where each file comes from.')
    sys.exit(0 if all_ok else 1)


if __name__ == '__main__':
    main()
