"""Broken in this environment whatever gevent does: a missing dependency."""
import pc_dependency_that_is_not_installed  # noqa: F401
