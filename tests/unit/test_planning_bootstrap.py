"""The first start's decisions (planning/bootstrap.py), from a table of situations."""

from __future__ import annotations

from dataclasses import replace

import pytest

from planning.bootstrap import BootstrapFacts, next_steps, progress_line

FRESH = BootstrapFacts(universe=0, universe_open=False, history_have=0, history_total=0, backfill_open=False,
                       tiers="", model=False, model_tried="", day="2026-11-20")  # fmt: skip
LOADED = replace(FRESH, universe=6500, history_total=500)


@pytest.mark.parametrize(
    ("facts", "steps"),
    [
        (FRESH, ["universe"]),  # nothing at all: the listing first
        (replace(FRESH, universe_open=True), []),  # the listing is on its way: ask nothing twice
        (LOADED, ["history"]),  # universe in, no bars: the history starts
        (replace(LOADED, backfill_open=True), []),  # running: a restart starts nothing
        (replace(LOADED, backfill_open=True, history_have=1), ["tiers"]),  # first bars: provisional tiers
        (replace(LOADED, backfill_open=True, history_have=200, tiers="provisional"), []),
        # the history's run ended short of complete (a session refused): planned again the next day only,
        # never in a loop of one refused call after another
        (replace(LOADED, history_have=499, tiers="provisional", history_planned="2026-11-19"), ["history"]),
        (replace(LOADED, history_have=499, tiers="provisional", history_planned="2026-11-20"), []),
        (
            replace(LOADED, history_have=500, tiers="provisional"),
            ["tiers", "model"],
        ),  # complete: final + model
        (replace(LOADED, history_have=500, tiers="final"), ["model"]),
        (replace(LOADED, history_have=500, tiers="final", model_tried="2026-11-20"), []),  # once a day
        (replace(LOADED, history_have=500, tiers="final", model_tried="2026-11-19"), ["model"]),
        (replace(LOADED, history_have=500, tiers="final", model=True), []),  # everything in place
    ],
)
def test_next_steps(facts, steps):
    assert next_steps(facts) == steps


def test_progress_line_says_what_is_known():
    running = replace(LOADED, backfill_open=True, history_have=137, tiers="provisional")
    assert progress_line(running, 73 * 60, next_entry="tier-1 quotes 09:30 ET") == (
        "universe 6,500 · history 137/500 sessions, about 73 min left · tiers: provisional · "
        "model: waiting for history · next: tier-1 quotes 09:30 ET"
    )
    assert progress_line(FRESH, 0.0).startswith("universe 0 · history: waiting for the universe ·")
    done = replace(LOADED, history_have=500, tiers="final")
    assert "model: not enough symbols" in progress_line(done, 0.0, model_reason="not enough symbols")
    assert "history 500/500 sessions, complete" in progress_line(replace(done, model=True), None)
