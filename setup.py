"""Package list for setuptools (metadata lives in pyproject.toml).

``gsoc_helpers.bundled`` is the top-level ``data/`` folder mapped into the package, so that a wheel (and a
``pip install git+...`` on Colab) carries the bundled checkpoints; ``gsoc_helpers.config.bundled_dir`` finds them
through importlib.resources.
"""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["gsoc_helpers", "gsoc_helpers.*"]) + ["gsoc_helpers.bundled"],
    package_dir={"gsoc_helpers.bundled": "data"},
    package_data={"gsoc_helpers.bundled": ["*.safetensors", "*.md", "*.jsonl"]},
    include_package_data=False,
)
