"""Package list for setuptools (metadata lives in pyproject.toml).

``gsoc_helpers.bundled`` is the top-level ``data/`` folder mapped into the package, so that a wheel (and a
``pip install git+...`` on Colab) carries the bundled checkpoints; ``gsoc_helpers.config.bundled_dir`` finds them
through importlib.resources.  All package data is listed here: a ``[tool.setuptools.package-data]`` table in
pyproject.toml would replace this list, not extend it.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["gsoc_helpers", "gsoc_helpers.*"]) + ["gsoc_helpers.bundled"],
    package_dir={"gsoc_helpers.bundled": "data"},
    package_data={
        "gsoc_helpers.bundled": ["*.safetensors", "*.md", "*.jsonl"],
        "gsoc_helpers.app": ["app.ipynb"],
    },  # the web app's notebook, served by Voilà
    include_package_data=False,
)
