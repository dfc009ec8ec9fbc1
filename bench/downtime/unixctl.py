"""A persistent client for an OVS daemon's unixctl socket (what `ovs-appctl -t PATH` speaks).

`ovs-appctl netdev-dummy/receive` costs a process start per frame (several ms under load); one
open JSON-RPC session answers in well under a millisecond, which a 2 ms probe schedule needs."""
import json
import socket


class UnixctlError(Exception):
    pass


class Unixctl:
    def __init__(self, path, timeout=10.0):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(self.path)
        self._buf = ""
        self._id = 0
        self._decoder = json.JSONDecoder()

    def call(self, command, *args):
        """Run one command and return its text result; UnixctlError when the daemon refuses it."""
        self._id += 1
        self.sock.sendall(json.dumps({"method": command, "params": list(args), "id": self._id}).encode())
        while True:
            reply = self._next()
            if reply.get("id") == self._id:
                break
        if reply.get("error") is not None:
            raise UnixctlError("%s %s: %s" % (self.path, command, str(reply["error"]).strip()))
        return reply.get("result")

    def receive(self, ifname, frame):
        """Hand `frame` to the datapath as if it arrived on interface `ifname` (netdev-dummy)."""
        return self.call("netdev-dummy/receive", ifname, bytes(frame).hex())

    def post(self, command, *args):
        """Send a command without waiting for its answer (read them with drain() in another thread)."""
        self._id += 1
        self.sock.sendall(json.dumps({"method": command, "params": list(args), "id": self._id}).encode())

    def drain(self):
        """Read answers until the connection closes; the number of errors among them."""
        errors = 0
        try:
            while True:
                if self._next().get("error") is not None:
                    errors += 1
        except (UnixctlError, OSError):
            return errors

    def _next(self):
        while True:
            text = self._buf.lstrip()
            if text:
                try:
                    msg, end = self._decoder.raw_decode(text)
                    self._buf = text[end:]
                    return msg
                except ValueError:
                    pass
            chunk = self.sock.recv(65536)
            if not chunk:
                raise UnixctlError("%s closed the connection" % self.path)
            self._buf += chunk.decode("utf-8", "replace")

    def close(self):
        self.sock.close()
