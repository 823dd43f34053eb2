"""Pilot of the attention-focus measurement: HLA with and without the
feedback round, trained on the distractor-attribute synthetic split (every
attribute word of an expression also describes another shape), then
measured with tools/analysis/attention_focus.py on its validation split.

Usage: python benchmarks/attention_focus_pilot.py [--iters 800] [--seed 0]
           [--num 200] [--name attention_focus_pilot]
Training is as in benchmarks/feedback_ablation.py (the small pretrained
CLIP kept frozen with LoRA adapters; two single-threaded runs at a time).
One seed: a pilot of the measurement, not evidence on its own. Writes
benchmarks/results/NAME.json.
"""
import argparse
import os.path as osp

from common import write_result
from feedback_ablation import ablation_jobs, focus_result
from peft_evidence import CONFIG, WORK, pretrain
from training_runs import run_trainings

VARIANTS = {
    'HLA (feedback + VWA)': [],
    'no feedback': ['model.neck.feedback=False'],
}
SPLIT = 'distractor_attributes'


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--iters', type=int, default=800)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num', type=int, default=200,
                        help='validation sentences to measure')
    parser.add_argument('--name', default='attention_focus_pilot')
    args = parser.parse_args()
    clip_dir = osp.join(WORK, 'tiny_clip')
    if not osp.isfile(osp.join(clip_dir, 'config.json')):
        pretrain(clip_dir, 600, 480)
    jobs = ablation_jobs(args.iters, [args.seed], clip_dir, args.name,
                         split=SPLIT, variants=VARIANTS)
    finals = run_trainings(jobs)
    variants = {}
    for job, val in zip(jobs, finals):
        focus = focus_result(job, args.iters, args.num)
        variants[job['name']] = dict(
            mIoU=val['mIoU'], oIoU=val['oIoU'], seconds=val['seconds'],
            num_sentences=focus['num_sentences'], data=focus['data'],
            focus=focus['summary'])
    write_result(args.name, dict(
        iters=args.iters, seed=args.seed, split=SPLIT, config=CONFIG,
        measure=('tools/analysis/attention_focus.py: share of a word\'s '
                 'LWA attention inside the referent mask; level0 is the '
                 'shallowest HLA level'),
        variants=variants))


if __name__ == '__main__':
    main()
