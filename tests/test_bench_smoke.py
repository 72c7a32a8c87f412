"""The benchmarks at their smoke size, so they do not rot: `bench/run --smoke` prints all five
tables, each with figures for the product and the bare reference, and the ratios."""
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_bench_smoke_prints_five_tables_with_figures_and_ratios(tmp_path):
    out_json = tmp_path / "bench.json"
    began = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--json", str(out_json)],
                         cwd=ROOT, capture_output=True, text=True, timeout=170)
    took = time.monotonic() - began
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    text = run.stdout
    tables = re.split(r"\n## ", text)[1:]
    assert [t[:2] for t in tables] == ["1.", "2.", "3.", "4.", "5."], text
    for t in tables:
        rows = [line for line in t.splitlines() if line.startswith("| ") and "---" not in line][1:]
        assert rows, t
        for row in rows:
            cells = [c.strip() for c in row.strip("|").split("|")]
            assert "n/a" not in cells, row
            assert any(re.fullmatch(r"-?\d+(\.\d+)?x", c) for c in cells), row  # a ratio
    assert "MET" in tables[0] or "MISSED" in tables[0]
    results = json.loads(out_json.read_text())
    relay = results["relay"]
    for side in ("product", "bare"):
        for mode in ("full", "rate"):
            fig = relay[side][mode]
            assert fig["rate"] > 0 and fig["p99"] > 0 and 0 < fig["server_cpu"] <= 1.5, fig
    assert all(r["open"] == r["n"] and r["failed"] == 0 for r in results["hold"]["product"])
    for name, run_ in results["offline"].items():
        assert run_["send"]["stored"] == run_["send"]["total"], (name, run_)
        assert run_["drain"]["got"] == run_["send"]["stored"], (name, run_)
        assert run_["ref_insert"] > 0 and run_["ref_deliver"] > 0
    rest = results["rest"]
    assert rest["bare"]["rate"] > 0
    assert all(r["rate"] > 0 and r["bad"] == 0 for r in rest["product"].values())
    assert set(results["scale"]["product"]) == {"1", "2"}
    assert all(r["rate"] > 0 for r in results["scale"]["product"].values())
    assert took < 120, "the smoke run should stay well under a minute on an idle machine"
