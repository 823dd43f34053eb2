"""Collect attention maps from modules deep inside a model's forward."""
from contextlib import contextmanager
from typing import Any, Iterator, List

import torch.nn as nn
from torch import Tensor


def _detach(value: Any) -> Any:
    """``value`` with every tensor in it detached (dicts, lists, tuples)."""
    if isinstance(value, Tensor):
        return value.detach()
    if isinstance(value, dict):
        return {k: _detach(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_detach(v) for v in value)
    return value


@contextmanager
def record_attention(module: nn.Module) -> Iterator[List[Any]]:
    """Collect the attention maps of every call of ``module`` made inside
    the ``with`` block, however deep in a model it sits.

    ``module.forward`` must take the keyword ``return_attention`` and, when
    it is True, return ``(output, attention)``, as :class:`HLABlock` and
    :class:`HLANeck` do. Inside the block each call gets
    ``return_attention=True``, its (detached) attention is appended to the
    yielded list, and the caller receives only ``output``: a segmentor or
    an inferencer runs unchanged. A caller that passes
    ``return_attention=True`` itself still gets the pair. Nothing is kept
    on the module: the hooks are removed when the block exits, also on an
    error, and recorders nest.

    Example:
        >>> with record_attention(model.neck) as calls:
        ...     model.predict(inputs, data_samples)
        >>> calls[0][0]['round1'].shape  # first call, level 0: (B, N, L)

    Args:
        module (nn.Module): The module whose attention to collect.

    Yields:
        list: One entry per call of ``module``, in call order.
    """
    calls: List[Any] = []
    # One flag per running call, True if this recorder switched the maps on
    # (so it hands the caller the plain output). A stack, not one flag, so
    # that a call that raised before returning does not shift later calls.
    switched_on: List[bool] = []

    def before(mod, args, kwargs):
        switched_on.append(not kwargs.get('return_attention', False))
        return args, dict(kwargs, return_attention=True)

    def after(mod, args, kwargs, result):
        output, attention = result
        calls.append(_detach(attention))
        if switched_on.pop():
            return output
        return None

    # prepend: the innermost recorder sees the pair first, so nested
    # recorders take the hooks off in the reverse order they put them on.
    handles = [
        module.register_forward_pre_hook(before, with_kwargs=True),
        module.register_forward_hook(after, with_kwargs=True, prepend=True)
    ]
    try:
        yield calls
    finally:
        for handle in handles:
            handle.remove()
