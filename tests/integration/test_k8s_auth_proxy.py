"""proxy, proxy_headers and no_proxy end to end: a forwarding HTTP proxy in front of the emulator
records what reaches it. Through the proxy, proxy_headers' proxy_basic_auth arrives as
Proxy-Authorization; with the API host in no_proxy, nothing reaches the proxy. (user_agent is
sent on the CONNECT of an HTTPS API server; for plain HTTP the request's own User-Agent wins.)"""
import base64
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_run import assert_ok, run_tasks
from k8s_emulator import K8sEmulator
from eda.objects import in_flight

NS = "vms"


class ForwardingProxy(BaseHTTPRequestHandler):
    """A plain HTTP proxy: the request line holds the absolute URL; forward it, keep the headers seen."""
    seen = []

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.seen.append(dict(self.headers))
        forwarded = dict((k, v) for k, v in self.headers.items()
                         if k.lower() not in ("proxy-authorization", "proxy-connection", "host"))
        with urllib.request.urlopen(urllib.request.Request(self.path, headers=forwarded), timeout=10) as answer:
            body = answer.read()
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def proxy():
    ForwardingProxy.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), ForwardingProxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, ForwardingProxy.seen
    finally:
        server.shutdown()
        server.server_close()


def test_proxy_headers_reach_the_proxy_and_no_proxy_bypasses_it(proxy):
    server, seen = proxy
    emu = K8sEmulator(token="proxy-test-token").start()
    try:
        in_flight(emu, NS, "db-0", "db-0-m1")
        auth = {"host": emu.url, "api_key": "proxy-test-token", "proxy": "http://127.0.0.1:%d" % server.server_port,
                "proxy_headers": {"proxy_basic_auth": "bob:proxy-pw", "user_agent": "klm-proxy-test/1"}}
        through, bypassed = run_tasks([
            ("vmim_info", dict(auth, namespace=NS)),
            ("vmim_info", dict(auth, namespace=NS, no_proxy="localhost,127.0.0.1")),
        ])
    finally:
        emu.stop()
    for result in (through, bypassed):
        assert [m["name"] for m in assert_ok(result)["migrations"]] == ["db-0-m1"]
    # Both calls make the same requests: the first all through the proxy, the bypassed one none.
    assert seen and 2 * len(seen) == len(emu.requests)
    for headers in seen:
        headers = dict((k.lower(), v) for k, v in headers.items())
        assert headers["proxy-authorization"] == "Basic " + base64.b64encode(b"bob:proxy-pw").decode()
