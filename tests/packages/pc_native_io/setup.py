# All metadata here, not in pyproject.toml: setuptools releases older than 61 ignore
# [project], and the C extension needs setup() anyway.
from setuptools import Extension, setup

setup(
    name="pc-native-io",
    version="1.0",
    description="patchcheck test package: a C extension that does blocking socket I/O itself.",
    packages=["pc_native_io"],
    ext_modules=[Extension("pc_native_io._io", ["pc_native_io/_io.c"])],
    python_requires=">=3.8",
)
