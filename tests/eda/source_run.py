"""Run the event source as ansible-rulebook does (runpy.run_path on the installed collection's
file, then `await main(queue, args)` with an asyncio queue), in an event loop of its own thread,
so a test can drive the Kubernetes emulator and read events at the same time."""
import asyncio
import runpy
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The collection as Ansible sees it (.venv/collections/ansible_collections/kubeovn/live_migration ->
# the repo): the path ansible-rulebook itself would load the source from.
SOURCE = (ROOT / ".venv" / "collections" / "ansible_collections" / "kubeovn" / "live_migration" / "extensions"
          / "eda" / "plugins" / "event_source" / "vmim_events.py")


def load_source():
    return runpy.run_path(str(SOURCE))


class SourceRun:
    """main(queue, args) running in a background event loop; events are read with next_event()."""

    def __init__(self, args):
        self.args = args
        self.module = load_source()
        self.loop = asyncio.new_event_loop()
        self.queue = None
        self.task = None
        self.error = None
        self._thread = threading.Thread(target=self._run, name="vmim-events", daemon=True)
        self._started = threading.Event()

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.queue = asyncio.Queue()
        self.task = self.loop.create_task(self.module["main"](self.queue, self.args))
        self._started.set()
        try:
            self.loop.run_until_complete(self.task)
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # reported to the test by next_event()/stop()
            self.error = exc
        finally:
            self.loop.close()

    def start(self):
        self._thread.start()
        self._started.wait(5)
        return self

    @property
    def running(self):
        return self._thread.is_alive()

    def next_event(self, timeout=10, where=None):
        """The next event within `timeout` seconds (skipping those `where` rejects); AssertionError if none."""
        deadline = time.monotonic() + timeout
        while True:
            if self.error is not None:
                raise AssertionError("the source ended: %r" % (self.error,))
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no event within %ss (source error: %r)" % (timeout, self.error))
            future = asyncio.run_coroutine_threadsafe(asyncio.wait_for(self.queue.get(), left), self.loop)
            try:
                event = future.result(left + 1)
            except (asyncio.TimeoutError, TimeoutError):
                continue
            if where is None or where(event):
                return event

    def events_for(self, quiet, where=None):
        """Every event (that `where` accepts) until none comes for `quiet` seconds."""
        events = []
        while True:
            try:
                events.append(self.next_event(quiet, where))
            except AssertionError:
                if self.error is not None:
                    raise
                return events

    def stop(self):
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.task.cancel)
            self._thread.join(10)
        return self.error
