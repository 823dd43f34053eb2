"""Evaluate a HARIS checkpoint (mmseg's tools/test.py, for this project).

    python tools/test.py CONFIG CHECKPOINT [--splits val testA testB]
    python tools/test.py --model FOLDER_OR_HUB_ID [--cfg-options \
        test_dataloader.dataset.data_root=/data/refcoco ...]

A model folder's config keeps the test datasets it was evaluated on, with
relative data roots (``data/...`` as in docs/dataset_prepare.md): run from
a checkout that has them, or give your paths with ``--cfg-options``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.dist import is_main_process  # noqa: E402
from mmengine.fileio import dump  # noqa: E402
from mmengine.logging import print_log  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from prettytable import PrettyTable  # noqa: E402

from projects.haris.apis.model_folder import (  # noqa: E402
    load_model_weights, read_model_config, resolve_model_folder)
from projects.haris.apis.model_source import (  # noqa: E402
    add_model_option, check_model_arguments)
from projects.haris.utils import (add_run_arguments,  # noqa: E402
                                  close_distributed,
                                  init_cpu_distributed, load_model_checkpoint,
                                  load_run_config)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Test (and eval) a model')
    parser.add_argument('config', nargs='?', help='test config file path')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint file')
    add_model_option(parser)
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
        '--tta',
        action='store_true',
        help='refused: HARIS has no test-time augmentation (mmseg\'s '
        'SegTTAModel does not fit referring segmentation)')
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
    args = parser.parse_args(argv)
    # the files are checked when the config is read (load_run_config)
    check_model_arguments(parser, args, check_files=False)
    return args


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


def refuse_tta(cfg, args):
    """Stop with the reason when test-time augmentation is asked for
    (``--tta``, a ``tta_model`` in the config, or a TTA model as the
    model)."""
    model_type = str(cfg.model.get('type', ''))
    if args.tta:
        asked = '--tta'
    elif cfg.get('tta_model') is not None:
        asked = f'tta_model in {args.config or args.model}'
    elif model_type.endswith('TTAModel'):
        asked = f'model type {model_type}'
    else:
        return
    sys.exit(
        f'{asked}: HARIS has no test-time augmentation. mmseg\'s '
        'SegTTAModel does not fit referring segmentation: it applies a '
        'sigmoid to probabilities that are sigmoids already, drops '
        'seg_logits, the sentence and the no-target answer, and a '
        'horizontal flip would need "left" and "right" swapped in the '
        'sentence. Run without it (tta_model = None).')


def use_splits(cfg, splits):
    """Make the config's test loop a ``MultiSplitTestLoop`` over
    ``splits``: mmengine's test loop for each split, in one
    ``runner.test()``."""
    test_cfg = dict(cfg.get('test_cfg') or {})
    loop = test_cfg.pop('type', 'TestLoop')
    if loop != 'TestLoop':
        sys.exit(f'--splits runs one TestLoop per split; this config\'s '
                 f'test_cfg is a {loop}. Run without --splits.')
    cfg.test_cfg = dict(type='MultiSplitTestLoop', splits=splits, **test_cfg)


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


def scoring(runner, cfg) -> dict:
    """How the numbers were scored: the mask threshold (the decode head's)
    and the test evaluator's ``eval_size`` (None: original resolution)."""
    model = runner.model.module if hasattr(runner.model, 'module') \
        else runner.model
    evaluators = cfg.test_evaluator
    if not isinstance(evaluators, (list, tuple)):
        evaluators = [evaluators]
    return dict(
        threshold=getattr(model.decode_head, 'threshold', None),
        eval_size=next((e['eval_size'] for e in evaluators
                        if e.get('eval_size') is not None), None))


def evaluate_splits(runner, cfg, splits, args):
    """One ``runner.test()``: every split (or the test dataset as
    configured); metrics per split as JSON in the run's log folder, and a
    summary table."""
    metrics = runner.test()
    source = dict(model=args.model) if args.model else dict(
        config=args.config, checkpoint=args.checkpoint)
    if splits is None:
        split = cfg.test_dataloader.dataset.get('split', 'test')
        results = {split: metrics}
        num_samples = {split: len(runner.test_dataloader.dataset)}
    else:
        results, num_samples = metrics, runner.test_loop.num_samples
    if is_main_process():
        for split, metrics in results.items():
            dump(
                dict(
                    metrics,
                    split=split,
                    num_sentences=num_samples[split],
                    **source,
                    **scoring(runner, cfg)),
                osp.join(runner.log_dir, f'{split}.json'),
                indent=2)
    if len(results) > 1:
        print_log(
            f'Summary of {len(results)} splits\n{summary_table(results)}',
            logger='current')
        if is_main_process():
            dump(results, osp.join(runner.log_dir, 'summary.json'), indent=2)
    return results


def main(argv=None):
    args = parse_args(argv)
    folder = None
    if args.model is not None:
        try:
            folder = resolve_model_folder(args.model)
            cfg = load_run_config(args, read_model_config(folder),
                                  args.model)
        except (ValueError, FileNotFoundError) as err:
            sys.exit(str(err))
    else:
        cfg = load_run_config(args)
    refuse_tta(cfg, args)
    cfg.load_from = None  # loaded below, strictly
    if args.show_dir:
        args.show_dir = osp.join(cfg.work_dir, args.show_dir)
    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)
    splits = resolve_splits(cfg, args.splits, args.config or args.model)
    if splits is not None:
        use_splits(cfg, splits)
    if args.out is not None:
        # with --splits, MultiSplitTestLoop writes <out>/<split>/...
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
        if folder is not None:
            load_model_weights(runner.model, folder, cfg)
        else:
            load_model_checkpoint(runner.model, args.checkpoint)
    except (ValueError, RuntimeError) as err:
        sys.exit(str(err))
    evaluate_splits(runner, cfg, splits, args)
    del runner  # its DDP model holds the process group
    close_distributed()


if __name__ == '__main__':
    main()
