"""Watch streams: replay from a resourceVersion, then live events, bookmarks, timeouts, cuts."""
import asyncio
import json

from aiohttp import web

from . import errors

CUT = object()       # queue marker: close the connection without ending the HTTP stream
FINISH = object()    # queue marker: end the stream cleanly, as the server's own timeout does


def _line(type_, obj):
    return (json.dumps({"type": type_, "object": obj}, separators=(",", ":")) + "\n").encode()


class WatchStream:
    """One open watch: its queue is fed by the store (any thread) through the event loop."""

    def __init__(self, request, rtype, bookmarks, bookmark_interval):
        self.request = request
        self.rtype = rtype
        self.bookmarks = bookmarks
        self.bookmark_interval = bookmark_interval
        self.loop = asyncio.get_running_loop()
        self.queue = asyncio.Queue()

    def push(self, item):
        """Thread-safe: called by the store under its lock, or by cut/finish.

        A watch that reconnected while the server was stopping can stay registered with the
        store after its event loop closed: the server is gone, so the item has nowhere to go."""
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:   # "Event loop is closed"
            pass

    def _bookmark(self, rv, initial_events_end=False):
        meta = {"resourceVersion": str(rv)}
        if initial_events_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return _line("BOOKMARK", {"kind": self.rtype.kind, "apiVersion": self.rtype.api_version, "metadata": meta})

    async def serve(self, store, matches, since, timeout, send_initial_events=False):
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        try:
            initial, watcher, last_rv = store.watch(self.rtype, matches, since,
                                                    lambda type_, obj, rv: self.push((type_, obj, rv)))
        except errors.ApiError as exc:
            # As the API server does: a watch that cannot start is HTTP 200 with one ERROR event.
            await response.prepare(self.request)
            await response.write(_line("ERROR", exc.status()))
            await response.write_eof()
            return response
        try:
            await response.prepare(self.request)
            for type_, obj in initial:
                await response.write(_line(type_, obj))
            if send_initial_events:   # client-go's watch-list: the end of the initial state is marked
                await response.write(self._bookmark(last_rv, initial_events_end=True))
            deadline = self.loop.time() + timeout if timeout else None
            next_bookmark = self.loop.time() + self.bookmark_interval
            while True:
                now = self.loop.time()
                # Wake at least every second to notice a client that went away.
                waits = [deadline - now, 1.0] if deadline else [1.0]
                if self.bookmarks:
                    waits.append(next_bookmark - now)
                try:
                    item = await asyncio.wait_for(self.queue.get(), max(0.0, min(waits)) if waits else None)
                except asyncio.TimeoutError:
                    transport = self.request.transport
                    if transport is None or transport.is_closing():
                        break
                    now = self.loop.time()
                    if deadline and now >= deadline:
                        break
                    if self.bookmarks and now >= next_bookmark:
                        await response.write(self._bookmark(last_rv))
                        next_bookmark = now + self.bookmark_interval
                    continue
                if item is CUT:
                    if self.request.transport is not None:
                        self.request.transport.abort()
                    raise asyncio.CancelledError()
                if item is FINISH:
                    break
                type_, obj, rv = item
                last_rv = rv
                if type_:
                    await response.write(_line(type_, obj))
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            store.unwatch(watcher)
        return response
