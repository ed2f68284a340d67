"""The one thing pyproject.toml cannot say: which packages to build.

Every package folder under ``agentlab/`` (found, so new subpackages need no list), plus the
repository's top-level ``datasets/`` folder, which ships inside the package as
``agentlab.datasets.bundled`` (``package-dir`` and ``package-data`` in pyproject.toml) so that a
wheel install finds the bundled datasets. Everything else is configured in pyproject.toml.
"""

from setuptools import find_namespace_packages, setup

setup(packages=[*find_namespace_packages(include=["agentlab", "agentlab.*"], exclude=["*.__pycache__"]), "agentlab.datasets.bundled"])
