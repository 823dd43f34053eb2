"""Evaluate a HARIS checkpoint (mmseg's tools/test.py, for this project)."""
import argparse
import copy
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.dist import is_main_process  # noqa: E402
from mmengine.fileio import dump  # noqa: E402
from mmengine.logging import print_log  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from prettytable import PrettyTable  # noqa: E402

from projects.haris.utils import (add_run_arguments,  # noqa: E402
                                  close_distributed,
                                  init_cpu_distributed, load_model_checkpoint,
                                  load_run_config)


def parse_args():
    parser = argparse.ArgumentParser(
        description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='if specified, the evaluation metric results will be dumped'
        'into the directory as json')
    parser.add_argument(
        '--out',
        type=str,
        help='directory to write per-sentence results (results.jsonl: '
        'ref id, sentence, image, IoU) for finding failure cases; with '
        '--splits, one <split>/results.jsonl per split')
    parser.add_argument(
        '--splits',
        nargs='+',
        metavar='SPLIT',
        help='evaluate these splits of the test dataset one after another, '
        'building the model and loading the checkpoint once, e.g. '
        '--splits val testA testB; "all" takes the config\'s test_splits. '
        'Metrics of each split go to <work_dir>/<timestamp>/<split>.json '
        'and a summary table is printed. Default: the config\'s test '
        'dataset as it is')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory where painted images (ground truth | prediction, '
        'with the sentence) are saved; a relative path is taken inside '
        'the work dir')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    add_run_arguments(parser)
    return parser.parse_args()


def trigger_visualization_hook(cfg, args):
    default_hooks = cfg.default_hooks
    if 'visualization' in default_hooks:
        visualization_hook = default_hooks['visualization']
        visualization_hook['draw'] = True
        if args.show:
            visualization_hook['show'] = True
            visualization_hook['wait_time'] = args.wait_time
        if args.show_dir:
            visualizer = cfg.visualizer
            visualizer['save_dir'] = args.show_dir
    else:
        raise RuntimeError(
            'VisualizationHook must be included in default_hooks. '
            'refer to usage '
            '"visualization=dict(type=\'VisualizationHook\')"')
    return cfg


def resolve_splits(cfg, requested, config_path):
    """The split names ``--splits`` asks for, checked before the model is
    built; None when it is not given (the test dataset as configured)."""
    if not requested:
        return None
    if 'all' in requested:
        if requested != ['all']:
            sys.exit(f'--splits {" ".join(requested)}: give "all" alone or '
                     'split names.')
        requested = cfg.get('test_splits')
        if not requested:
            sys.exit(f'--splits all: {config_path} declares no test_splits; '
                     'add e.g. test_splits = [\'val\', \'test\'] to it or '
                     'name the splits: --splits val test.')
    dataset = cfg.test_dataloader.dataset
    if 'split' not in dataset:
        sys.exit(f'--splits needs a test dataset with a split argument; '
                 f'{dataset.get("type")} in {config_path} has none (its '
                 'files fix the split). Run without --splits.')
    requested = list(requested)
    repeated = sorted({s for s in requested if requested.count(s) > 1})
    if repeated:
        sys.exit(f'--splits names {", ".join(repeated)} more than once.')
    return requested


def use_split(runner, cfg, split, args):
    """Point the runner's test loop at one split: the test dataloader and
    evaluator of ``cfg`` with that split, built by the next
    ``runner.test()`` (as ``Runner.__init__`` stores them)."""
    dataloader = copy.deepcopy(cfg.test_dataloader)
    dataloader.dataset.split = split
    evaluator = copy.deepcopy(cfg.test_evaluator)
    if args.out is not None:
        evaluator['output_file'] = osp.join(args.out, split, 'results.jsonl')
    runner._test_dataloader = dataloader
    runner._test_evaluator = evaluator
    runner._test_loop = copy.deepcopy(cfg.test_cfg)


def summary_table(results):
    """Split x metric table: the plain keys of every split (a split may
    lack some, e.g. N-acc without no-target sentences) and the further
    thresholds' keys other than Prec@/Pr@ (those are in the JSON files)."""
    keys = []
    for metrics in results.values():
        keys += [
            k for k in metrics if k not in keys and
            not (k.startswith(('Prec@', 'Pr@')) and k.count('@') > 1)
        ]
    table = PrettyTable(field_names=['split'] + keys)
    for split, metrics in results.items():
        table.add_row([split] + [metrics.get(k, '') for k in keys])
    return table.get_string()


def evaluate_splits(runner, cfg, splits, args):
    """One test loop per split on the loaded model; metrics per split as
    JSON in the run's log folder, and a summary table."""
    default = cfg.test_dataloader.dataset.get('split', 'test')
    results = {}
    for i, split in enumerate(splits or [default]):
        if splits is not None:
            use_split(runner, cfg, split, args)
            print_log(
                f'Split {split} ({i + 1} of {len(splits)})', logger='current')
        metrics = runner.test()
        results[split] = metrics
        if is_main_process():
            dump(
                dict(
                    metrics,
                    split=split,
                    num_sentences=len(runner.test_dataloader.dataset),
                    config=args.config,
                    checkpoint=args.checkpoint),
                osp.join(runner.log_dir, f'{split}.json'),
                indent=2)
    if len(results) > 1:
        print_log(
            f'Summary of {len(results)} splits\n{summary_table(results)}',
            logger='current')
        if is_main_process():
            dump(results, osp.join(runner.log_dir, 'summary.json'), indent=2)
    return results


def main():
    args = parse_args()
    cfg = load_run_config(args)
    cfg.load_from = None  # loaded below, strictly
    if args.show_dir:
        args.show_dir = osp.join(cfg.work_dir, args.show_dir)
    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)
    splits = resolve_splits(cfg, args.splits, args.config)
    if args.out is not None and splits is None:
        cfg.test_evaluator['output_file'] = osp.join(args.out,
                                                     'results.jsonl')
    # evaluation only: fold the adapters into the encoders at the first
    # prediction (exact up to float rounding; a merged model refuses to
    # train); --cfg-options model.test_cfg.merge_adapters=False keeps them
    cfg.model.setdefault('test_cfg', {}).setdefault('merge_adapters', True)
    init_cpu_distributed(cfg, args.launcher)

    runner = Runner.from_cfg(cfg)
    # strict: a checkpoint of another model fails here, naming the keys
    # that differ; a trained-weights-only checkpoint gets its frozen
    # encoder weights from model.backbone.pretrained
    try:
        load_model_checkpoint(runner.model, args.checkpoint)
    except (ValueError, RuntimeError) as err:
        sys.exit(str(err))
    evaluate_splits(runner, cfg, splits, args)
    del runner  # its DDP model holds the process group
    close_distributed()


if __name__ == '__main__':
    main()
