"""Test-set overlays: one per sentence, and a test-only run builds nothing
of training."""
import glob
import os.path as osp

from mmengine.config import Config
from mmengine.runner import Runner

from tests.e2e_utils import ROOT


def test_test_run_draws_each_sentence_without_training_data(tmp_path):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'haris_synthetic.py'))
    cfg.work_dir = str(tmp_path / 'work')
    # only the test data exists: building the training set would fail
    cfg.train_dataloader.dataset = dict(
        type='GenericReferringDataset', data_root=str(tmp_path / 'absent'),
        ann_file='refs.jsonl', pipeline=[])
    cfg.test_dataloader.dataset.update(data_root=str(tmp_path / 'data'),
                                       num_samples=3)
    cfg.test_dataloader.update(num_workers=0, persistent_workers=False,
                               batch_size=4)
    cfg.default_hooks.visualization.update(draw=True, interval=1)
    cfg.visualizer.save_dir = str(tmp_path / 'overlays')
    # a visualizer is a process-wide instance per name: another test's
    # would keep its own folder
    cfg.visualizer.name = f'overlays_{tmp_path.name}'
    runner = Runner.from_cfg(cfg)
    runner.test()
    sentences = len(runner.test_dataloader.dataset)
    assert sentences > 3  # the scenes have several sentences each
    drawn = glob.glob(str(tmp_path / 'overlays' / '**' / '*.png'),
                      recursive=True)
    # one overlay per sentence: those of one image do not overwrite
    # each other
    assert len(drawn) == sentences, sorted(map(osp.basename, drawn))
