"""Settings: defaults < config file < ``PATCHCHECK_*`` environment < command line.

Pure and file-only: reads one TOML file, never runs anything. Every value a user can get wrong
is validated here, so an error names the file, the line (found by searching the key in the file
text), the key and the value, the way pytest-timeout's ``_validate_*`` helpers do::

    pyproject.toml:14: [tool.patchcheck] fail-on = 'blocky': expected one of untested, warns,
    blocks, breaks, never

One job per module:

- ``files``: locating the config file (``pyproject.toml`` / ``patchcheck.toml``) and reading it;
- ``origin``: which line of that file sets a key (for ``file:line`` in messages);
- ``settings``: the :class:`Settings` dataclass;
- ``load``: precedence (command line > environment > file > defaults) → :func:`load_settings`;
- ``keys``: validating one key's value; ``patch``, ``services`` and ``waivers``: the keys with
  rules of their own;
- ``messages``: how values and where they came from are named in errors.

The names below are the public ones; import them from ``patchcheck.config``.
"""
from __future__ import annotations

from patchcheck.config.files import PYPROJECT, STANDALONE, find_config_file, read_config
from patchcheck.config.load import ENV_VARS, load_settings, settings_from_table
from patchcheck.config.messages import ENV_PREFIX, describe, show
from patchcheck.config.origin import TABLE, ConfigOrigin
from patchcheck.config.patch import PATCH_ALL_ARGS, parse_patch_args
from patchcheck.config.settings import SETTING_NAMES, Settings
from patchcheck.config.waivers import WAIVER_KEYS, parse_waivers

__all__ = [
    "ENV_PREFIX", "ENV_VARS", "PATCH_ALL_ARGS", "PYPROJECT", "SETTING_NAMES", "STANDALONE",
    "TABLE", "WAIVER_KEYS", "ConfigOrigin", "Settings", "describe", "find_config_file",
    "load_settings", "parse_patch_args", "parse_waivers", "read_config", "settings_from_table",
    "show",
]
