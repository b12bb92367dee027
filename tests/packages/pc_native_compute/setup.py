# All metadata here, not in pyproject.toml: setuptools releases older than 61 ignore
# [project], and the C extension needs setup() anyway.
from setuptools import Extension, setup

setup(
    name="pc-native-compute",
    version="1.0",
    description="patchcheck test package: a C extension that only computes (must not be flagged).",
    packages=["pc_native_compute"],
    ext_modules=[Extension("pc_native_compute._compute", ["pc_native_compute/_compute.c"])],
    python_requires=">=3.8",
)
