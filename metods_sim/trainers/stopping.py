"""Stopping a trainer's loop where its state is whole, so that what it checkpoints there resumes exactly."""
from __future__ import annotations

import signal
import sys
import threading


class StopRequests:
    """Inside `with StopRequests() as stop:` the first Ctrl-C or SIGTERM only sets `stop.requested`: the loop
    ends at its next iteration boundary (`unit`: generation, update), never halfway through one. A second one
    raises KeyboardInterrupt at once. A signal the process was started to ignore stays ignored; outside the main
    thread (where Python cannot catch signals) nothing changes."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, unit: str = "generation"):
        self.requested, self.unit = False, unit
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                if signal.getsignal(sig) is not signal.SIG_IGN:
                    self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print(f"\n{signal.Signals(signum).name}: stopping at the end of this {self.unit} "
              f"(send it again to stop at once)", file=sys.stderr, flush=True)
