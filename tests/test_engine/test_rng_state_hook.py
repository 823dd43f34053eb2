"""RngStateHook driven as mmengine's loop drives it: the training steps'
draws continue across a resume whatever else drew between the steps."""
from types import SimpleNamespace

import pytest
import torch
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

from projects.haris.engine import RngStateHook


def step(hook, runner):
    """One training iteration: its draws stand for dropout masks."""
    hook.before_train_iter(runner, runner.iter)
    mask = torch.rand(4)
    hook.after_train_iter(runner, runner.iter)
    runner.iter += 1
    return mask


def outside(draws):
    """What a DataLoader iterator does when created: draw a base seed."""
    for _ in range(draws):
        torch.empty((), dtype=torch.int64).random_()


def checkpoint(hook, runner):
    ckpt = dict(meta=dict(iter=runner.iter))
    hook.before_save_checkpoint(runner, ckpt)
    return ckpt


def test_resume_continues_the_steps_stream_whatever_draws_between():
    torch.manual_seed(0)
    hook, runner = RngStateHook(), SimpleNamespace(iter=0)
    hook.before_train(runner)
    whole = [step(hook, runner) for _ in range(2)]
    ckpt = checkpoint(hook, runner)
    outside(1)  # validation right after the checkpoint
    whole += [step(hook, runner) for _ in range(2)]

    torch.manual_seed(5)  # the new process: another state at the start
    hook, runner = RngStateHook(), SimpleNamespace(iter=0)
    hook.after_load_checkpoint(runner, ckpt)
    runner.iter = ckpt['meta']['iter']
    hook.before_train(runner)
    outside(3)  # epoch boundaries crossed while skipping trained data
    resumed = [step(hook, runner) for _ in range(2)]
    for a, b in zip(whole[2:], resumed):
        assert torch.equal(a, b)


def test_steps_draw_what_they_drew_without_the_hook():
    """Nothing between the steps: the hook changes no draw; something
    between them: the steps' draws do not move."""
    torch.manual_seed(0)
    plain = torch.rand(12).view(3, 4)
    for between in (0, 2):
        torch.manual_seed(0)
        hook, runner = RngStateHook(), SimpleNamespace(iter=0)
        hook.before_train(runner)
        masks = []
        for _ in range(3):
            masks.append(step(hook, runner))
            outside(between)
        assert torch.equal(torch.stack(masks), plain), between


def test_load_from_keeps_the_seeded_generator():
    torch.manual_seed(0)
    hook, runner = RngStateHook(), SimpleNamespace(iter=0)
    step(hook, runner)
    ckpt = checkpoint(hook, runner)
    torch.manual_seed(1)
    expected = torch.rand(4)
    torch.manual_seed(1)
    hook, runner = RngStateHook(), SimpleNamespace(iter=0)
    hook.after_load_checkpoint(runner, ckpt)  # load_from: iteration 0
    hook.before_train(runner)
    assert torch.equal(step(hook, runner), expected)


def as_rank(monkeypatch, rank, world, others=()):
    """Make the hook see process ``rank`` of ``world``; the gather returns
    ``others`` around this process's state."""
    import projects.haris.engine.rng_state_hook as module
    monkeypatch.setattr(module, 'get_dist_info', lambda: (rank, world),
                        raising=False)

    def gather(state):
        out = list(others)
        out.insert(rank, state)
        assert len(out) == world
        return out

    monkeypatch.setattr(module, 'all_gather_object', gather, raising=False)


def test_each_rank_continues_its_own_state(monkeypatch):
    """Rank 0 writes the checkpoint; rank 1 resumed from it continues rank
    1's stream, not rank 0's."""
    torch.manual_seed(1)  # rank 1's stream: a step, then the next one's
    torch.rand(4)
    rank1 = dict(cpu=torch.get_rng_state())
    expected = torch.rand(4)
    torch.manual_seed(0)  # rank 0 trains a step and writes the checkpoint
    as_rank(monkeypatch, 0, 2, others=[rank1])
    hook, runner = RngStateHook(), SimpleNamespace(iter=0)
    hook.before_train(runner)
    step(hook, runner)
    ckpt = checkpoint(hook, runner)

    as_rank(monkeypatch, 1, 2, others=[None])
    torch.manual_seed(5)
    hook, runner = RngStateHook(), SimpleNamespace(iter=0)
    hook.after_load_checkpoint(runner, ckpt)
    runner.iter = ckpt['meta']['iter']
    hook.before_train(runner)
    assert torch.equal(step(hook, runner), expected)


def test_other_world_size_keeps_the_seeded_generator(monkeypatch):
    """A checkpoint of 2 processes resumed in 1 (or in 3): a warning
    naming both counts, and the generator as seeded."""
    import projects.haris.engine.rng_state_hook as module
    logged = []
    monkeypatch.setattr(module, 'print_log',
                        lambda msg, **kwargs: logged.append(msg),
                        raising=False)
    torch.manual_seed(0)
    as_rank(monkeypatch, 0, 2, others=[dict(cpu=torch.get_rng_state())])
    hook, runner = RngStateHook(), SimpleNamespace(iter=0)
    hook.before_train(runner)
    step(hook, runner)
    ckpt = checkpoint(hook, runner)
    for rank, world in ((0, 1), (2, 3)):
        as_rank(monkeypatch, rank, world, others=[None] * (world - 1))
        torch.manual_seed(5)
        expected = torch.rand(4)
        torch.manual_seed(5)
        hook, runner = RngStateHook(), SimpleNamespace(iter=0)
        hook.after_load_checkpoint(runner, ckpt)
        runner.iter = ckpt['meta']['iter']
        hook.before_train(runner)
        assert torch.equal(step(hook, runner), expected)
        assert 'of 2 processes' in logged[-1] and f'has {world}' in \
            logged[-1]


def test_single_state_of_earlier_checkpoints_resumes_one_process():
    """Checkpoints written before the per-process states held one state
    under ``torch_rng_state``: a one-process resume continues it."""
    torch.manual_seed(0)
    hook, runner = RngStateHook(), SimpleNamespace(iter=0)
    hook.before_train(runner)
    step(hook, runner)
    ckpt = checkpoint(hook, runner)
    expected = step(hook, runner)
    meta = ckpt['meta']
    meta['torch_rng_state'] = meta.pop('torch_rng_states')[0]
    torch.manual_seed(5)
    hook, runner = RngStateHook(), SimpleNamespace(iter=0)
    hook.after_load_checkpoint(runner, ckpt)
    runner.iter = meta['iter']
    hook.before_train(runner)
    assert torch.equal(step(hook, runner), expected)


@pytest.mark.parametrize('loop,workers,persistent,warns', [
    (EpochBasedTrainLoop, 2, True, True),
    (EpochBasedTrainLoop, 0, False, True),
    (EpochBasedTrainLoop, 2, False, False),
    (IterBasedTrainLoop, 2, True, False),
])
def test_resume_warns_where_data_draws_restart(monkeypatch, loop, workers,
                                               persistent, warns):
    """An epoch-based resume reads no earlier data, so a numpy stream that
    lives across epochs (persistent workers, the main process) restarts;
    an iteration-based one re-reads the trained batches."""
    import projects.haris.engine.rng_state_hook as module
    logged = []
    monkeypatch.setattr(module, 'print_log',
                        lambda msg, **kwargs: logged.append(msg))
    train_loop = loop.__new__(loop)  # the loop's type is what counts
    train_loop.dataloader = SimpleNamespace(num_workers=workers,
                                            persistent_workers=persistent)
    runner = SimpleNamespace(iter=4, train_loop=train_loop)
    hook = RngStateHook()
    hook.after_load_checkpoint(runner, checkpoint(RngStateHook(), runner))
    hook.before_train(runner)
    assert bool(logged) == warns
    if warns:
        assert 'persistent_workers=False' in logged[0]
