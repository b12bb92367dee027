"""Constants shared by the watchdog tests (a uniquely named module: several test folders
have a conftest.py, so ``from conftest import`` is ambiguous)."""

#: The line of ``blocklib.wait()`` that blocks (the conftest's fixture writes the file).
BLOCK_LINE = 7

#: Options that patch as early as pytest allows and watch every test.
WATCH = ("-p", "no:cacheprovider", "--patchcheck-patch", "--patchcheck-watch")
