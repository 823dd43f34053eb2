"""Hooks the end-to-end tests add to real training runs (through a config's
``custom_imports``): probes that check the run from inside, and faults
injected at a fixed point, so a test never races the run it watches."""
import json
import os

from mmengine.fileio.backends import LocalBackend
from mmengine.dist import get_dist_info
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from peft.tuners.tuners_utils import BaseTunerLayer

from mmseg.registry import HOOKS


@HOOKS.register_module()
class FrozenEncoderProbeHook(Hook):
    """Before every training iteration, check that the original CLIP
    modules are in eval mode while the adapters train; count the checks in
    ``{out}.rank{rank}`` (JSON) so the test knows the probe ran."""

    def __init__(self, out: str) -> None:
        self.out = out
        self.checked = 0

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        adapters = set()
        for module in model.backbone.clip.modules():
            if isinstance(module, BaseTunerLayer):
                adapters.update(id(m) for m in module.modules())
                assert module.training, 'an adapter layer is in eval mode'
        training = [
            name for name, module in model.backbone.clip.named_modules()
            if id(module) not in adapters and module.training
        ]
        assert not training, f'CLIP modules in train mode: {training[:5]}'
        assert adapters, 'no adapter layer found in CLIP'
        self.checked += 1
        with open(f'{self.out}.rank{get_dist_info()[0]}', 'w') as f:
            json.dump(dict(checked=self.checked), f)


@HOOKS.register_module()
class FaultHook(Hook):
    """Kill the process (as a SIGKILL would: no clean-up) at a fixed point.

    Args:
        die_after_checkpoint (int, optional): Exit right after the
            checkpoint of this iteration has been written completely.
        die_writing_checkpoint (int, optional): Exit half-way through
            writing the checkpoint of this iteration (half of its bytes on
            disk).
    """

    priority = 'LOWEST'  # after CheckpointHook in the same iteration

    def __init__(self, die_after_checkpoint=None,
                 die_writing_checkpoint=None) -> None:
        self.die_after_checkpoint = die_after_checkpoint
        self.die_writing_checkpoint = die_writing_checkpoint

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if runner.iter + 1 == self.die_after_checkpoint:
            os._exit(9)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if checkpoint['meta']['iter'] != self.die_writing_checkpoint:
            return

        def write_half_and_die(backend, obj, filepath):
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
            os._exit(9)

        # this process is about to die; nothing else shares the patch
        LocalBackend.put = write_half_and_die


@HOOKS.register_module()
class VisionPassCounterHook(Hook):
    """Count, in a test run, the images CLIP's vision tower encodes (the
    batch sizes reaching its patch embedding), the sentences scored, and
    the distinct images of each batch; write them to ``{out}.rank{rank}``
    (JSON) after the test loop."""

    def __init__(self, out: str) -> None:
        self.out = out
        self.encoded = 0
        self.sentences = []
        self.distinct_per_batch = []

    def before_test(self, runner) -> None:
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        embeddings = model.backbone.clip.vision_model.embeddings
        embeddings.register_forward_pre_hook(self.count)

    def count(self, module, args) -> None:
        self.encoded += args[0].shape[0]

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None) -> None:
        paths = [out.img_path for out in outputs]
        self.sentences += [[path, out.text]
                           for path, out in zip(paths, outputs)]
        self.distinct_per_batch.append(len(set(paths)))

    def after_test(self, runner) -> None:
        with open(f'{self.out}.rank{get_dist_info()[0]}', 'w') as f:
            json.dump(dict(encoded=self.encoded, sentences=self.sentences,
                           distinct_per_batch=self.distinct_per_batch), f)
