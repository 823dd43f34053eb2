"""mmengine's CheckpointHook, writing only what trains."""
from typing import Optional

from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log

from mmseg.registry import HOOKS
from ..utils.frozen_weights import (META_KEY, fingerprint,
                                    frozen_pretrained_keys, restore_frozen,
                                    strip_frozen)


@HOOKS.register_module()
class TrainableCheckpointHook(CheckpointHook):
    """Save checkpoints without the frozen pretrained encoder weights.

    Frozen encoder weights that the config reloads from files at build
    time (``model.backbone.pretrained``, an mmpretrain encoder's
    ``Pretrained`` init_cfg) are left out of every checkpoint this runner
    writes; adapters, neck, head, buffers, optimizer and runner state stay.
    ``--resume``, ``load_from``, ``tools/test.py`` and the inferencer put
    the frozen weights back from the pretrained encoders, after checking a
    SHA-256 fingerprint recorded in ``meta['frozen_weights']``. ``load_from``
    is non-strict as in mmengine (another config's checkpoint loads what
    matches; mmengine logs the missing and unexpected keys); the others
    refuse a checkpoint that leaves out weights that train. Randomly built
    encoders (``clip_config``) have no such source and are always saved.

    Args:
        save_frozen (bool): Keep the frozen weights too (full checkpoints).
            Defaults to False.
        **kwargs: mmengine ``CheckpointHook`` arguments.
    """

    def __init__(self, save_frozen: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.save_frozen = save_frozen
        self._frozen: Optional[tuple] = None  # (keys, sha256), computed once

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.save_frozen:
            return
        backbone_cfg = runner.cfg.model.get('backbone')
        if self._frozen is None:
            keys = frozen_pretrained_keys(runner.model, backbone_cfg)
            digest = fingerprint(checkpoint['state_dict'], keys)
            self._frozen = (keys, digest)
            if keys:
                print_log(
                    f'Checkpoints leave out {len(keys)} frozen pretrained '
                    'tensors (reloaded from model.backbone at load; '
                    'default_hooks.checkpoint.save_frozen=True keeps them).',
                    logger='current')
        keys, digest = self._frozen
        if keys:
            checkpoint.setdefault('meta', {})[META_KEY] = strip_frozen(
                checkpoint['state_dict'], keys, digest,
                (backbone_cfg or {}).get('pretrained'))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # --resume continues this config's run: every weight that trains
        # must be there. load_from starts a run from another one and is
        # non-strict, as in mmengine: the frozen weights are restored and
        # the keys that do not match are logged by mmengine's loader.
        load_from = runner.cfg.get('load_from')
        restore_frozen(
            checkpoint,
            runner.model,
            name=f'Checkpoint {load_from}' if load_from else 'The checkpoint',
            strict=bool(runner.cfg.get('resume', False)))
