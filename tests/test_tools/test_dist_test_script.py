"""tools/dist_test.sh hands a config and checkpoint, or --model, to
tools/test.py under torchrun, with the other options intact."""
import os
import subprocess

from tests.e2e_utils import ROOT


def torchrun_args(tmp_path, *args):
    fake = tmp_path / 'python'  # prints what torchrun would get
    fake.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@"\n')
    fake.chmod(0o755)
    env = dict(os.environ, PATH=f'{tmp_path}:{os.environ["PATH"]}')
    out = subprocess.run(['bash', 'tools/dist_test.sh', *args], cwd=ROOT,
                         env=env, capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert lines[:2] == ['-m', 'torch.distributed.run']
    assert '--nproc_per_node=2' in lines
    return lines[lines.index('tools/test.py') + 1:]


def test_config_and_checkpoint(tmp_path):
    assert torchrun_args(tmp_path, 'cfg.py', 'ckpt.pth', '2', '--splits',
                         'all') == ['cfg.py', 'ckpt.pth', '--launcher',
                                    'pytorch', '--splits', 'all']


def test_model_folder_or_hub_id(tmp_path):
    assert torchrun_args(
        tmp_path, '--model', 'owner/haris', '2', '--cfg-options',
        'test_dataloader.dataset.data_root=my data') == [
            '--model', 'owner/haris', '--launcher', 'pytorch',
            '--cfg-options', 'test_dataloader.dataset.data_root=my data']
