# The extension is declared here because setuptools' pyproject.toml has no stable table for
# ext_modules; metadata lives in pyproject.toml.
from setuptools import Extension, setup

setup(ext_modules=[Extension("pc_native_io._io", ["pc_native_io/_io.c"])])
