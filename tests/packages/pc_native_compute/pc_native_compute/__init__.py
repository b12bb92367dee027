"""patchcheck test package: a C extension that only computes; the native check must not flag it.

``checksum(data)`` returns the sum of the bytes of any object supporting the buffer protocol.
"""
from pc_native_compute._compute import checksum

__all__ = ["checksum"]
__version__ = "1.0"
