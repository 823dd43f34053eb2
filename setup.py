from setuptools import find_packages, setup

setup(
    name='haris',
    version='0.1.0',
    description='HARIS: Human-Like Attention for Referring Image '
    'Segmentation, on the OpenMMLab stack',
    packages=find_packages(include=['projects', 'projects.*']),
    python_requires='>=3.9',
    license='Apache-2.0',
)
