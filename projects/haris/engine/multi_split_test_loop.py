"""Evaluate several splits of the test dataset in one ``runner.test()``."""
import copy
import os.path as osp
from typing import Dict, List, Sequence, Union

from mmengine.logging import print_log
from mmengine.runner import BaseLoop, TestLoop

from mmseg.registry import LOOPS


def split_dataloader_cfg(dataloader: dict, split: str) -> dict:
    """The test dataloader config with its dataset's ``split`` set."""
    dataloader = copy.deepcopy(dataloader)
    dataset = dataloader['dataset']
    if 'split' not in dataset:
        raise ValueError(
            f'MultiSplitTestLoop needs a test dataset with a split '
            f'argument; {dataset.get("type")} has none (its files fix the '
            'split). Use the plain TestLoop.')
    dataset['split'] = split
    return dataloader


def split_evaluator_cfg(evaluator: Union[dict, list], split: str):
    """The test evaluator config with every metric's ``output_file``
    ``folder/name`` moved to ``folder/<split>/name``."""
    evaluator = copy.deepcopy(evaluator)
    metrics = evaluator
    if isinstance(evaluator, dict) and 'metrics' in evaluator:
        metrics = evaluator['metrics']
    for metric in metrics if isinstance(metrics, list) else [metrics]:
        if metric.get('output_file'):
            folder, name = osp.split(metric['output_file'])
            metric['output_file'] = osp.join(folder, split, name)
    return evaluator


@LOOPS.register_module()
class MultiSplitTestLoop(BaseLoop):
    """Test several splits of the test dataset, one after another, in one
    ``runner.test()``.

    The model is built and its checkpoint loaded once, and the run hooks
    (``before_run``, ``after_run``) fire once. Each split is evaluated by
    mmengine's ``TestLoop`` on the test dataloader and evaluator configs
    with the dataset's ``split`` set to it, so each split fires its own
    ``before_test`` ... ``after_test`` hooks and the logger prints its
    metrics. A metric's ``output_file`` ``folder/name`` becomes
    ``folder/<split>/name``. A split's dataset is built when its turn
    comes (the first one with the loop, as ``TestLoop`` builds its
    dataloader), and the previous split's dataloader is released.

    ``run()`` returns the metrics of every split (split name -> metrics);
    ``num_samples`` then maps each split to its number of samples.

    Args:
        runner (Runner): The runner.
        dataloader (dict): The test dataloader config; its dataset takes
            a ``split`` argument.
        evaluator (dict | list): The test evaluator config.
        splits (Sequence[str]): Split names, evaluated in this order.
        fp16 (bool): Test with autocast, as ``TestLoop``. Defaults to
            False.
    """

    def __init__(self,
                 runner,
                 dataloader: dict,
                 evaluator: Union[dict, list],
                 splits: Sequence[str],
                 fp16: bool = False) -> None:
        if not isinstance(dataloader, dict):
            raise TypeError(
                'MultiSplitTestLoop builds a dataloader per split from the '
                f'test dataloader config; got a built {type(dataloader)}.')
        if isinstance(splits, str) or not splits:
            raise ValueError(f'MultiSplitTestLoop splits={splits!r}: give '
                             'a list of split names, e.g. [\'val\', '
                             '\'test\'].')
        self.splits: List[str] = list(splits)
        self.dataloader_cfg = dataloader
        self.evaluator_cfg = evaluator
        self.fp16 = fp16
        self.num_samples: Dict[str, int] = {}
        self._runner = runner
        self.split_loop = self.build_split_loop(self.splits[0])
        super().__init__(runner, self.split_loop.dataloader)
        self.evaluator = self.split_loop.evaluator

    def build_split_loop(self, split: str) -> TestLoop:
        """mmengine's test loop over one split."""
        return TestLoop(
            self._runner,
            split_dataloader_cfg(self.dataloader_cfg, split),
            split_evaluator_cfg(self.evaluator_cfg, split),
            fp16=self.fp16)

    def run(self) -> Dict[str, dict]:
        """Evaluate every split; returns split name -> metrics."""
        results = {}
        for i, split in enumerate(self.splits):
            print_log(
                f'Split {split} ({i + 1} of {len(self.splits)})',
                logger='current')
            if i:
                # free the previous split's dataloader (and workers) first
                self.split_loop = self.dataloader = self.evaluator = None
                self.split_loop = self.build_split_loop(split)
                # runner.test_dataloader / test_evaluator: the current split
                self.dataloader = self.split_loop.dataloader
                self.evaluator = self.split_loop.evaluator
            results[split] = self.split_loop.run()
            self.num_samples[split] = len(self.dataloader.dataset)
        return results
