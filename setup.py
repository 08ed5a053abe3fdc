"""Package layout: `readingroom` lives in src/readingroom, `readingroom.kernels` in kernels/.

Metadata is in pyproject.toml; this file only maps the two folders, discovering subpackages so a
new chapter's subpackage needs no edit here.
"""

from setuptools import find_packages, setup

packages = find_packages("src", include=["readingroom", "readingroom.*"])
packages += ["readingroom.kernels"] + [f"readingroom.kernels.{p}" for p in find_packages("kernels")]

setup(
    packages=packages,
    package_dir={"": "src", "readingroom.kernels": "kernels"},
    # Data files the package reads at run time (importlib.resources), so that a wheel or sdist
    # carries them: the geometry problem set, and the OCR chapter's docstring corpus with its
    # provenance record (readingroom.ocr.text).
    package_data={"readingroom": ["py.typed", "geometry/*.txt", "ocr/corpus.txt",
                                  "ocr/corpus.json"]},
)
