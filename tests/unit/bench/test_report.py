"""The bench report's overview: one speed-up per method and W, the fastest in bold."""

from __future__ import annotations

from tunestream.bench.informed import SHARES
from tunestream.bench.report import Row, is_peer, overview_markdown
from tunestream.bench.stats import Interval


def row(method: str, workers: int, median: float, speedup: float, share: float = 0.05) -> Row:
    return Row(
        task="mlp",
        workers=workers,
        method=method,
        share=share,
        median_s=Interval(median, median - 1, median + 1),
        vs_random=Interval(speedup, speedup - 0.25, speedup + 0.25),
        vs_best_peer=Interval(1.0, 0.5, 1.5),
        best_peer="Peer",
        reached=1.0,
    )


def test_overview_has_a_column_per_w_and_bolds_the_fastest() -> None:
    rows = [
        row("tunestream Random", 2, 20.0, 1.0),
        row("tunestream Bayesian", 2, 10.0, 2.0),
        row("Peer", 2, 15.0, 1.33),
        row("tunestream Random", 4, 12.0, 1.0),
        row("Peer", 4, 6.0, 2.0),
        row("tunestream Random", 2, 50.0, 1.0, share=0.02),  # another target: not in this overview
    ]
    text = overview_markdown(rows)
    lines = text.strip().splitlines()
    assert lines[0] == "#### mlp: speed-up over Random at the 5% target"
    assert lines[2] == "| method | W = 2 | W = 4 |"
    body = lines[4:]
    # tunestream's methods first, then the peers; a method not run at some W leaves its cell empty.
    assert body[0] == "| tunestream Bayesian | **2 [1.75, 2.25]** |  |"
    assert body[1] == "| tunestream Random | 1 [0.75, 1.25] | 1 [0.75, 1.25] |"
    assert body[2] == "| Peer | 1.33 [1.08, 1.58] | **2 [1.75, 2.25]** |"


def test_an_informed_bound_is_listed_last_and_never_the_fastest_or_a_peer() -> None:
    informed = next(iter(SHARES))
    rows = [
        row("tunestream Random", 2, 20.0, 1.0),
        row(informed, 2, 2.0, 10.0),
        row("Peer", 2, 15.0, 1.33),
    ]
    body = overview_markdown(rows).strip().splitlines()[4:]
    assert body[0] == "| tunestream Random | 1 [0.75, 1.25] |"
    assert body[1] == f"| {informed} | 10 [9.75, 10.2] |"
    assert body[2] == "| Peer | **1.33 [1.08, 1.58]** |"
    assert not is_peer(informed) and is_peer("Peer") and not is_peer("tunestream Random")
