"""The search bench's smoke mode on the committed curve tables: every table, W = 2, a few seeds of
a few methods (a peer among them), figures and plots written. The full bench runs by hand
(docs/strategies.md)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support import scripts

ROOT = Path(__file__).resolve().parents[3]


def load_cli():  # type: ignore[no-untyped-def]
    return scripts.load_script("benchmarks/search_bench.py")


def test_smoke_mode_on_every_committed_table(tmp_path: Path) -> None:
    cli = load_cli()
    tables = sorted(p.name.removesuffix(".json.gz") for p in (ROOT / "benchmarks" / "tables").glob("*.json.gz"))
    assert len(tables) >= 4
    assert cli.main(["--smoke", "--processes", "1", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary-zero.json").read_text())
    assert {r["task"] for r in summary} == set(tables)
    assert {r["method"] for r in summary} == set(cli.SMOKE_METHODS)
    random = [r for r in summary if r["method"] == "tunestream Random"]
    assert all(r["vs_random"] == 1.0 for r in random if r["median_s"] is not None)
    for task in tables:
        assert (tmp_path / f"search_bench_{task}.png").stat().st_size > 10_000
    # A rerun takes the stored cells instead of simulating again.
    assert cli.main(["--smoke", "--processes", "1", "--out", str(tmp_path)]) == 0
    # The clairvoyant's ceiling, from the stored Random cells: above Random, finite, per target.
    assert cli.main(["--smoke", "--report-only", "--ceiling", "--out", str(tmp_path)]) == 0
    ceilings = json.loads((tmp_path / "ceiling-zero.json").read_text())
    assert {(c["task"], c["target_share"]) for c in ceilings} == {(t, s) for t in tables for s in (0.1, 0.05, 0.02)}
    assert all(c["hit_share"] > 0 and c["ceiling"] > 1 for c in ceilings)


def test_unknown_method_is_refused(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    cli = load_cli()
    assert cli.main(["--smoke", "--methods", "Nope*", "--out", str(tmp_path)]) == 2
    assert "no method matches" in capsys.readouterr().err
