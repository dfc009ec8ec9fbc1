"""bench/eda runs end to end at a tiny size (one migration; a burst of two VMs, prepared then cut
over) through the real ansible-rulebook, with the rulebook's defaults (adaptive batching) and with batching
off: both tables are printed with a figure in every cell. Never asserts on time."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_run import ansible_env

ROOT = Path(__file__).resolve().parents[2]
SECONDS = re.compile(r"^\d+\.\d+ s$")


def bench(*args):
    proc = subprocess.run([sys.executable, "-m", "bench.eda"] + list(args), capture_output=True, text=True,
                          cwd=str(ROOT), env=ansible_env(), timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def table_rows(stdout, first_cell):
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in stdout.splitlines()
            if line.startswith("| " + first_cell)]
    assert rows, stdout
    return rows


@pytest.mark.parametrize("args, first_cells", [
    (("latency", "--migrations", "1"), ("ansible-runner called", "NB requested-chassis", "SB requested_additional")),
    (("burst", "--vms", "2"), ("NB prepared", "SB additional chassis", "NB cut over", "SB on the target only")),
    (("burst", "--vms", "2", "--batch-window", "0"), ("NB prepared", "SB additional chassis", "NB cut over",
                                                      "SB on the target only")),
])
def test_eda_bench_prints_every_figure(args, first_cells):
    out = bench(*args)
    for cell in first_cells:
        for row in table_rows(out, cell):
            assert all(SECONDS.match(value) for value in row[1:]), row
    assert re.search(r"^target .*: (met|MISSED)", out, re.M), out
