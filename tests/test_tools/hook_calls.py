"""A hook that counts the Runner's hook calls, for tests of tools/test.py
(imported through a config's ``custom_imports``)."""
import json
from collections import Counter

from mmengine.dist import get_dist_info
from mmengine.hooks import Hook

from mmseg.registry import HOOKS


@HOOKS.register_module()
class HookCallCounter(Hook):
    """Count the run, test and test-epoch hook calls and the test
    iterations; after every ``after_run`` write the counts to
    ``{out}.rank{rank}`` (JSON), so that a second ``after_run`` shows in
    the file."""

    def __init__(self, out: str) -> None:
        self.out = out
        self.calls = Counter()

    def before_run(self, runner) -> None:
        self.calls['before_run'] += 1

    def before_test(self, runner) -> None:
        self.calls['before_test'] += 1

    def before_test_epoch(self, runner) -> None:
        self.calls['before_test_epoch'] += 1

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None) -> None:
        self.calls['after_test_iter'] += 1

    def after_test_epoch(self, runner, metrics=None) -> None:
        self.calls['after_test_epoch'] += 1

    def after_test(self, runner) -> None:
        self.calls['after_test'] += 1

    def after_run(self, runner) -> None:
        self.calls['after_run'] += 1
        with open(f'{self.out}.rank{get_dist_info()[0]}', 'w') as f:
            json.dump(dict(self.calls), f)
