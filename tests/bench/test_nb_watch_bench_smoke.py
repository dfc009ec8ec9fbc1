"""bench/nb_watch runs end to end at a tiny size: the watcher holds only the VM's two ports and sees the
wipe, the full replica holds every port. Never asserts on time or memory figures."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SIZE = 300


def test_the_watcher_holds_only_the_vms_ports_and_the_replica_holds_all():
    out = subprocess.run([sys.executable, "-m", "bench.nb_watch", "--size", str(SIZE), "--repeat", "1"],
                         cwd=str(ROOT), capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = re.findall(r"^\| (conditional|whole table)[^|]*\| (\d+) \| [\d.]+ \| ([\d.]+|-) \|", out.stdout, re.M)
    assert [(mode, int(held), seen != "-") for mode, held, seen in rows] == [
        ("conditional", 2, True), ("whole table", SIZE, False)], out.stdout
