"""A native crash at import (like a broken extension module)."""
import ctypes

ctypes.string_at(0)
