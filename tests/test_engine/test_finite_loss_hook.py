"""FiniteLossHook driven as the loop drives it, on a runner stub: without a
loss scaler the first non-finite loss stops training; under AMP the steps
the scaler skips are tolerated up to a limit."""
from types import SimpleNamespace

import pytest
import torch
from mmengine.optim import AmpOptimWrapper, OptimWrapper, OptimWrapperDict

import projects.haris.engine.finite_loss_hook as module
from projects.haris.engine import FiniteLossHook

NAN, INF = float('nan'), float('inf')


def plain_wrapper():
    param = torch.nn.Parameter(torch.zeros(1))
    return OptimWrapper(torch.optim.SGD([param], lr=0.1))


def amp_wrapper():
    """An ``AmpOptimWrapper`` as the hook sees it (building one needs a
    GPU): the class, without its constructor."""
    return AmpOptimWrapper.__new__(AmpOptimWrapper)


def train(hook, optim_wrapper, losses, work_dir):
    """Feed ``losses`` to the hook as iterations 1, 2, ...; return the
    iteration it stopped at (None: it did not) and its message."""
    runner = SimpleNamespace(optim_wrapper=optim_wrapper, iter=0,
                             work_dir=str(work_dir))
    for loss in losses:
        try:
            hook.after_train_iter(runner, runner.iter, None,
                                  dict(loss=torch.tensor(loss)))
        except RuntimeError as error:
            return runner.iter + 1, str(error)
        runner.iter += 1
    return None, None


@pytest.fixture
def logged(monkeypatch):
    messages = []
    monkeypatch.setattr(module, 'print_log',
                        lambda msg, **kwargs: messages.append(msg),
                        raising=False)
    return messages


def test_without_loss_scaler_the_first_non_finite_loss_stops(tmp_path):
    (tmp_path / 'last_checkpoint').write_text('work/iter_2.pth')
    for wrapper in (plain_wrapper(), None):
        at, message = train(FiniteLossHook(), wrapper, [1.0, 2.0, NAN, 1.0],
                            tmp_path)
        assert at == 3
        assert message.startswith('Loss is nan at iteration 3')
        assert 'work/iter_2.pth' in message


@pytest.mark.parametrize('wrapper', [
    amp_wrapper(),
    SimpleNamespace(loss_scaler=object()),
    OptimWrapperDict(a=plain_wrapper(), b=amp_wrapper()),
])
def test_amp_tolerates_the_scalers_skipped_steps(wrapper, tmp_path,
                                                 logged):
    """Default 5: five consecutive non-finite losses pass (warned), the
    sixth stops; a finite loss starts the count again."""
    losses = [1.0] + [NAN] * 5 + [1.0] + [INF] * 5 + [1.0]
    assert train(FiniteLossHook(), wrapper, losses, tmp_path) == (None,
                                                                   None)
    assert len(logged) == 10
    assert 'Loss is nan at iteration 2' in logged[0]
    assert 'skipped' in logged[0] and '1 of 5' in logged[0]
    at, message = train(FiniteLossHook(), wrapper, [1.0] + [NAN] * 6,
                        tmp_path)
    assert at == 7
    assert message.startswith('Loss is nan at iteration 7')
    assert 'the 6 iterations from 2' in message


def test_amp_with_no_tolerance_stops_at_once(tmp_path):
    at, _ = train(FiniteLossHook(max_skipped_steps=0), amp_wrapper(),
                  [1.0, INF], tmp_path)
    assert at == 2


def test_bad_tolerance_is_named():
    with pytest.raises(ValueError, match='max_skipped_steps'):
        FiniteLossHook(max_skipped_steps=-1)
