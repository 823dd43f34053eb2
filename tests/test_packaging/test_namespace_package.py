"""An installed HARIS leaves other ``projects.*`` packages importable:
``projects`` is a namespace package (PEP 420), as OpenMMLab repositories
use the name for their own project folders."""
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHECK = '''
import projects.haris
import projects.other
print(projects.haris.__file__)
print(projects.other.NAME)
'''


def build_wheel(tmp_path: Path) -> Path:
    """A wheel of a copy of the package sources, built offline (no build
    isolation), so that the checkout gets no build folders."""
    src = tmp_path / 'src'
    src.mkdir()
    shutil.copy(ROOT / 'setup.py', src)
    shutil.copytree(ROOT / 'requirements', src / 'requirements')
    shutil.copytree(ROOT / 'projects', src / 'projects',
                    ignore=shutil.ignore_patterns('__pycache__'))
    wheels = tmp_path / 'wheels'
    subprocess.run(
        [sys.executable, '-m', 'pip', 'wheel', '--no-deps',
         '--no-build-isolation', '--no-index', '-q', str(src), '-w',
         str(wheels)], check=True, capture_output=True, cwd=tmp_path)
    (wheel, ) = wheels.glob('haris-*.whl')
    return wheel


def test_wheel_installs_beside_other_projects(tmp_path):
    wheel = build_wheel(tmp_path)
    target = tmp_path / 'site'
    subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '--no-deps', '--no-index',
         '-q', '--target', str(target), str(wheel)],
        check=True, capture_output=True, cwd=tmp_path)
    # another OpenMMLab-style project folder, e.g. mmseg's projects/<name>
    other = tmp_path / 'other' / 'projects' / 'other'
    other.mkdir(parents=True)
    (other / '__init__.py').write_text("NAME = 'other project'\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(target), str(tmp_path / 'other')]))
    # run outside the checkout: only the installed copy is on the path
    proc = subprocess.run([sys.executable, '-c', CHECK], cwd=tmp_path,
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    haris_file, other_name = proc.stdout.split('\n')[-3:-1]
    assert Path(haris_file).is_relative_to(target)
    assert other_name == 'other project'
    names = zipfile.ZipFile(wheel).namelist()
    assert 'projects/haris/__init__.py' in names
    assert 'projects/__init__.py' not in names
