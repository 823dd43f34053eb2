import os.path as osp

from setuptools import find_namespace_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def parse_requirements(name):
    """Requirement lines of ``requirements/<name>.txt`` (ranges), without
    comments and blank lines."""
    path = osp.join(HERE, 'requirements', f'{name}.txt')
    with open(path) as f:
        lines = (line.split('#', 1)[0].strip() for line in f)
        return [line for line in lines if line]


setup(
    name='haris',
    version='0.1.0',
    description='HARIS: Human-Like Attention for Referring Image '
    'Segmentation, on the OpenMMLab stack',
    # `projects` is a namespace package (PEP 420): installed, it leaves
    # other `projects.*` (e.g. mmseg's project folders) importable
    packages=find_namespace_packages(
        include=['projects.haris', 'projects.haris.*']),
    python_requires='>=3.9',
    install_requires=parse_requirements('runtime'),
    extras_require={
        'mmpretrain': parse_requirements('optional'),
        'tests': parse_requirements('tests'),
        'demo': parse_requirements('demo'),
        'export': parse_requirements('export'),
        'all': parse_requirements('optional') + parse_requirements('tests') +
        parse_requirements('demo') + parse_requirements('export'),
    },
    license='Apache-2.0',
    zip_safe=False,
)
