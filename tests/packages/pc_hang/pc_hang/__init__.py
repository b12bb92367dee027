"""An import that loops forever (waiting for something that never comes)."""
import time

while True:
    time.sleep(0.05)
