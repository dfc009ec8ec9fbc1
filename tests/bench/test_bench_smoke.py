"""bench/nb_scale runs end to end at a tiny size: it prints its table, every method really wrote
to the NB, and its ovsdb-server is gone afterwards. Never asserts on time or memory figures."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ovn_sandbox.daemons import is_alive

ROOT = Path(__file__).resolve().parents[2]
SIZE = 100
EXPECTED_ROWS = {
    ("(a) module_utils", "name"),
    ("(b) ansible ovn_lsp", "name"),
    ("(c) ovn-nbctl set", "name"),
    ("(a) module_utils", "vmi+namespace"),
    ("(b) ansible ovn_lsp", "vmi+namespace"),
}


def lsp_rows(db_file):
    """Every Logical_Switch_Port of the (stopped) server's database file, read offline."""
    query = ["OVN_Northbound", {"op": "select", "table": "Logical_Switch_Port", "where": [],
                                "columns": ["name", "options", "external_ids"]}]
    out = subprocess.run(["ovsdb-tool", "query", str(db_file), json.dumps(query)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)[0]["rows"]


def main_table(stdout):
    """The data rows of the table of measured methods (the first table printed)."""
    lines = stdout.splitlines()
    header = [i for i, line in enumerate(lines) if line.startswith("| LSPs in NB | method | ports selected by |")]
    assert header, stdout
    rows = []
    for line in lines[header[0] + 2:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


@pytest.mark.slow
def test_nb_scale_prints_its_table_at_a_tiny_size(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "bench.nb_scale", "--sizes", str(SIZE), "--repeat", "1", "--workdir", str(tmp_path)],
        cwd=str(ROOT), capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr

    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in main_table(proc.stdout)]
    assert {(row[1], row[2]) for row in rows} == EXPECTED_ROWS, proc.stdout
    for row in rows:
        assert row[3] == "1", row                                   # runs
        assert all(float(cell) > 0 for cell in row[4:]), row         # times and peak RSS are figures

    # The server is stopped; its database shows the fill and the last prepare.
    pid = int(re.search(r"NB ovsdb-server pid (\d+)", proc.stderr).group(1))
    assert not is_alive(pid, marker=str(tmp_path))
    ports = lsp_rows(tmp_path / "ovn-nb" / "ovn-nb.db")
    assert len(ports) == SIZE
    vm_ports = {p["name"]: dict(p["options"][1]) for p in ports if ["pod", "bench/bench-vm"] in p["external_ids"][1]}
    assert sorted(vm_ports) == ["bench-vm.bench", "bench-vm.bench.net1"]
    for options in vm_ports.values():
        assert options == {"requested-chassis": "node-a,node-b", "activation-strategy": "rarp"}
