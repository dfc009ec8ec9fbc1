"""bench/nb_read runs end to end at a tiny size: the reply is read whole, and the sweep's narrowed read
finds the same pinned ports as the whole-table read. Never asserts on time figures."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_framing_and_sweep_tables_are_printed_with_the_pins_found():
    out = subprocess.run([sys.executable, "-m", "bench.nb_read", "--sizes", "300", "--repeat", "1", "--pinned", "7"],
                         cwd=str(ROOT), capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    assert re.search(r"^\| 300 \| [\d.]+ \| [\d.]+ / [\d.]+ \|$", out.stdout, re.M), out.stdout
    sweep = re.findall(r"^\| (\d+) \| (\d+) \| [\d.]+ / [\d.]+ \| [\d.]+ / [\d.]+ \|$", out.stdout, re.M)
    assert [(int(size) >= 300, int(found)) for size, found in sweep] == [(True, 7)], out.stdout
