"""RngStateHook driven as mmengine's loop drives it: the training steps'
draws continue across a resume whatever else drew between the steps."""
from types import SimpleNamespace

import torch

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
