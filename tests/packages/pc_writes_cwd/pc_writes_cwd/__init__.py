"""An import that writes a file relative to the working directory (a log, a cache, a lock)."""
import os

with open("pc_writes_cwd.out", "w") as f:
    f.write(f"written at import by pc_writes_cwd in {os.getcwd()}\n")
