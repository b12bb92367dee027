"""Pure Python; the bundled libgarbage.so.1 starts like ELF and then is garbage."""
