"""bench/downtime runs end to end once per case (tiny mode): it prints its tables with sane
figures, the unprepared network really loses probes, and its daemons are gone afterwards.
Never asserts on time."""
import subprocess
import sys
from pathlib import Path

import pytest

from ovn_sandbox import OvnSandbox

ROOT = Path(__file__).resolve().parents[2]
CASES = ("unprepared", "collection/playbook", "collection/eda")

pytestmark = pytest.mark.timeout(900)


def table_rows(stdout, header_start):
    """Data rows (lists of cells) of the Markdown table whose header starts with `header_start`."""
    lines = stdout.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(header_start)]
    assert starts, stdout
    rows = []
    for line in lines[starts[0] + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


@pytest.mark.slow
def test_downtime_prints_sane_figures_for_every_case(tmp_path):
    out_dir = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "bench.downtime", "--repeat", "1", "--workdir", str(tmp_path),
                           "--out", str(out_dir)], cwd=str(ROOT), capture_output=True, text=True, timeout=840,
                          check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Traceback" not in proc.stderr, out

    gaps = {row[0]: row for row in table_rows(proc.stdout, "| case | runs | probes sent")}
    assert set(gaps) == set(CASES), proc.stdout
    for case, row in gaps.items():
        runs, sent = int(row[1]), int(row[2])
        gap_min, gap_median, gap_max = (float(c) for c in row[3:6])
        lost_min, lost_max = int(row[6]), int(row[8])
        assert runs == 1 and sent > 0, row
        assert 0 <= gap_min <= gap_median <= gap_max, row
        assert 0 <= lost_min <= lost_max <= sent, row
    # Pinned to the source until the end, the unprepared port cannot receive right after the switchover.
    assert int(gaps["unprepared"][8]) > 0, proc.stdout
    assert gaps["unprepared"][9] == "1.000", proc.stdout

    waits = {row[0]: row for row in table_rows(proc.stdout, "| case | runs | target pod scheduled")}
    assert set(waits) == {"collection/playbook", "collection/eda"}, proc.stdout
    for row in waits.values():
        assert row[1] == "1" and float(row[2]) > 0, row     # the target chassis did appear in SB

    assert sum(line.endswith((": met", ": MISSED")) for line in proc.stdout.splitlines()) == 2, proc.stdout
    # The tables next to one timeline per case, PNGs (the file signature) that matplotlib wrote.
    assert (out_dir / "downtime.md").read_text().strip() == proc.stdout.strip()
    for case in CASES:
        assert (out_dir / ("timeline-%s.png" % case.replace("/", "-"))).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not OvnSandbox.attach(tmp_path / "ovn").running_pids()
