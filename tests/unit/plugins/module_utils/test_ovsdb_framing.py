"""Reply framing of the OVSDB client: messages split across many small chunks are found exactly,
and the work grows linearly with the stream (bytes scanned, decoder calls), never per chunk."""
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / ".venv" / "collections"))

import pytest  # noqa: E402
from chunked_socket import ChunkedSocket  # noqa: E402

from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import ovsdb  # noqa: E402
from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import OvsdbError  # noqa: E402


def lsp_rows(count):
    """Rows shaped as a select of Kube-OVN ports returns them, with awkward strings among them."""
    rows = []
    for i in range(count):
        rows.append({"_uuid": ["uuid", "%08x-0000-4000-8000-%012x" % (i, i)], "name": "vm-%05d.ns" % i, "type": "",
                     "options": ["map", [["requested-chassis", "hv1,hv2"], ["odd", "a } b { \" \\\\ \\\" } é"]]],
                     "external_ids": ["map", [["pod", "ns/vm-%05d" % i], ["vendor", "kube-ovn"]]]})
    return rows


def reply(request_id, rows):
    return json.dumps({"id": request_id, "result": [{"rows": rows}], "error": None}, separators=(",", ":"))


def connection(data, sizes):
    sock = ChunkedSocket(data, sizes)
    return ovsdb.Connection(sock, ovsdb.parse_remote("tcp:127.0.0.1:6641")), sock


def test_a_large_reply_in_small_chunks_is_decoded_once():
    rows = lsp_rows(2000)
    data = reply(1, rows).encode("utf-8")
    conn, sock = connection(data, [4096])
    result = conn.call("transact", ["OVN_Northbound"])
    assert result == [{"rows": rows}]
    assert sock.calls > 100
    # Every byte scanned once, one decoder call for the one message: linear, whatever the chunks.
    assert conn.framer.stats == {"scanned": len(data), "decoded": 1}


@pytest.mark.parametrize("count", [500, 1000, 4000])
def test_parse_work_grows_linearly_with_the_reply(count):
    data = reply(1, lsp_rows(count)).encode("utf-8")
    conn, _sock = connection(data, [1000, 333, 4096])
    conn.call("transact", ["OVN_Northbound"])
    # The old framing re-parsed the whole buffer per chunk: scanned bytes grew with size^2.
    assert conn.framer.stats["scanned"] == len(data)
    assert conn.framer.stats["decoded"] == 1


def test_every_split_point_of_tricky_messages():
    """Braces, quotes and backslashes inside strings, a two-byte UTF-8 character, an echo request
    before the reply and whitespace between messages: cut at every byte and in one-byte chunks."""
    echo = json.dumps({"method": "echo", "params": ["x{"], "id": "echo"})
    answer = json.dumps({"id": 1, "result": [{"rows": [{"s": "} { \\ \" é \\\\", "t": "\\\"}"}]}], "error": None},
                        ensure_ascii=False)
    data = (echo + "\n " + answer).encode("utf-8")
    for cut in range(1, len(data)):
        conn, sock = connection(data, [cut, len(data)])
        assert conn.call("transact", ["OVN_Northbound"]) == [{"rows": [{"s": "} { \\ \" é \\\\", "t": "\\\"}"}]}]
        # The echo was answered on the way.
        assert json.loads(sock.sent[1].decode()) == {"result": ["x{"], "error": None, "id": "echo"}
    conn, _sock = connection(data, [1])
    assert conn.call("transact", ["OVN_Northbound"])[0]["rows"][0]["t"] == "\\\"}"
    assert conn.framer.stats == {"scanned": len(data), "decoded": 2}


def test_random_chunking_of_many_messages():
    rng = random.Random(12)
    messages = [{"id": i, "result": [{"rows": lsp_rows(rng.randint(0, 5))}], "error": None} for i in range(1, 40)]
    data = "".join(json.dumps(m, ensure_ascii=False) + rng.choice(["", " ", "\n"]) for m in messages).encode("utf-8")
    framer = ovsdb.Framer()
    got, pos = [], 0
    while pos < len(data):
        size = rng.randint(1, 200)
        framer.feed(data[pos:pos + size])
        pos += size
        msg = framer.pop()
        while msg is not None:
            got.append(msg)
            msg = framer.pop()
    assert got == messages
    assert framer.stats["scanned"] == len(data)
    assert framer.stats["decoded"] == len(messages)


def test_garbage_is_a_clear_error():
    conn, _sock = connection(b'{"id": 1, "result": [}}', [5])
    with pytest.raises(OvsdbError) as err:
        conn.call("transact", ["OVN_Northbound"])
    assert "tcp:127.0.0.1:6641: not an OVSDB JSON-RPC" in err.value.msg
