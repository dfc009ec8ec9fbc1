"""An in-memory socket for the OVSDB client's framing: it hands out a byte stream in chunks of
the given sizes (cycled), as a TCP socket under a large reply does. Used by the framing unit
tests and by bench.nb_read, which times the client's own work without a server."""


class ChunkedSocket(object):
    def __init__(self, data, sizes):
        self.data, self.pos, self.sizes, self.calls = data, 0, list(sizes), 0
        self.sent = []

    def settimeout(self, _timeout):
        pass

    def sendall(self, data):
        self.sent.append(data)

    def recv(self, limit):
        size = min(limit, self.sizes[self.calls % len(self.sizes)])
        self.calls += 1
        chunk = self.data[self.pos:self.pos + size]
        self.pos += size
        return chunk

    def close(self):
        pass
