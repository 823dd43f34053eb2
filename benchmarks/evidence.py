"""The two training studies in one queue, so both cores stay busy: the
feedback ablation (benchmarks/feedback_ablation.py) and the PEFT evidence
(benchmarks/peft_evidence.py); the ablation short (500 iterations, three
seeds, the relational split; benchmarks/results/feedback_ablation_short.json).
Usage: python benchmarks/evidence.py [--iters 500]
"""
import argparse
import os.path as osp

from feedback_ablation import ablation_jobs, collect, write_ablation
from peft_evidence import CONFIG, WORK, peft_jobs, pretrain, write_peft
from training_runs import run_trainings


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--iters', type=int, default=500)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--pretrain-steps', type=int, default=600)
    parser.add_argument('--eval-images', type=int, default=480)
    args = parser.parse_args()
    clip_dir = osp.join(WORK, 'tiny_clip')
    log = pretrain(clip_dir, args.pretrain_steps, args.eval_images)
    ablation = ablation_jobs(args.iters, args.seeds, clip_dir)
    peft = peft_jobs(clip_dir, args.iters)
    finals = run_trainings(peft + ablation)
    write_peft(peft, finals[:len(peft)], args.iters, clip_dir, log,
               args.eval_images)
    write_ablation('feedback_ablation_short',
                   collect(ablation, finals[len(peft):]), iters=args.iters,
                   split='relational_only', config=CONFIG)


if __name__ == '__main__':
    main()
