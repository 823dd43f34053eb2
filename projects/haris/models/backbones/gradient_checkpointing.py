"""Activation (gradient) checkpointing of an encoder's layers: their
activations are recomputed in the backward pass instead of kept."""
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator

import torch.nn as nn
from torch.utils.checkpoint import checkpoint


def checkpointed(forward: Callable) -> Callable:
    """``forward`` run through non-reentrant ``torch.utils.checkpoint``.

    Non-reentrant checkpointing gives gradients to parameters inside the
    layer (adapters) even when no input requires a gradient (frozen
    encoders), accepts keyword arguments and replays the random state, so
    dropout masks are the same in the recomputation.
    """

    def run(*args, **kwargs):
        return checkpoint(forward, *args, use_reentrant=False, **kwargs)

    return run


@contextmanager
def checkpointed_layers(layers: Iterable[nn.Module],
                        enabled: bool = True) -> Iterator[None]:
    """Inside this context, each of ``layers`` keeps no activations for
    backward: its ``forward`` runs through :func:`checkpointed` and is
    recomputed in the backward pass.

    The layers are switched for the call inside the context only, however
    the model runs them (its own loop, HF's or mmpretrain's); their hooks
    run once, outside the checkpoint, and the state dict, names and
    copies of the model are unchanged. Each layer's own ``forward`` is
    back on exit (backward may run later: the recomputation keeps the
    ``forward`` it was given).

    Args:
        layers (Iterable[nn.Module]): Layers to checkpoint one by one.
        enabled (bool): False leaves the layers as they are. Defaults to
            True.
    """
    if not enabled:
        yield
        return
    saved = []  # (layer, its instance-level forward or None)
    try:
        for layer in layers:
            saved.append((layer, vars(layer).get('forward')))
            layer.forward = checkpointed(layer.forward)
        yield
    finally:
        for layer, own in saved:
            if own is None:
                del layer.forward
            else:
                layer.forward = own
