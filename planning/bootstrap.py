"""A fresh box sets itself up: which first-start steps are due, and the one-line progress report.

Pure: facts in, decisions out. The ``bootstrap`` task gathers the facts (database, the dispatcher's open
runs, a small Redis hash of what was already asked for) every few minutes and after each step's callback;
asking twice is prevented by the facts themselves (an open run, a recorded request), so a restart resumes
where the last start stopped and never begins again.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BootstrapFacts:
    """``universe``: active symbols; ``history_have``/``history_total``: sessions of the two-year history
    stored / expected; ``*_open``: a run of that step is under way; ``tiers``: "" (never assigned),
    "provisional" (from the first bars) or "final" (from the whole history); ``model``: a trained model
    exists; ``model_tried``/``history_planned``: the day training / the history was last asked for ("" never);
    ``day``: the session the history ends on."""

    universe: int
    universe_open: bool
    history_have: int
    history_total: int
    backfill_open: bool
    tiers: str
    model: bool
    model_tried: str
    day: str
    history_planned: str = ""

    @property
    def history_complete(self) -> bool:
        return self.history_total > 0 and self.history_have >= self.history_total


def next_steps(f: BootstrapFacts) -> list[str]:
    """The steps to start now, in order: ``universe``, ``history``, ``tiers`` (provisional or final),
    ``model``. Empty when everything is in place or under way."""
    if f.universe == 0:
        return [] if f.universe_open else ["universe"]
    steps = []
    # once per day: sessions the provider refuses (not yet served, say) must not re-plan in a loop
    if not f.history_complete and not f.backfill_open and f.history_planned != f.day:
        steps.append("history")
    if (f.tiers == "" and f.history_have > 0) or (f.tiers != "final" and f.history_complete):
        steps.append("tiers")
    if f.history_complete and not f.model and f.model_tried != f.day:
        steps.append("model")
    return steps


def progress_line(f: BootstrapFacts, history_eta_seconds: float | None, model_reason: str = "",
                  next_entry: str = "") -> str:  # fmt: skip
    """E.g. ``universe 6,500 · history 137/500 sessions, about 73 min left · model: waiting for history``."""
    parts = [f"universe {f.universe:,}" + (" (loading)" if f.universe_open else "")]
    history = f"history {f.history_have}/{f.history_total} sessions"
    if f.history_total == 0:
        history = "history: waiting for the universe"
    elif not f.history_complete and history_eta_seconds is not None:
        history += f", about {max(1, round(history_eta_seconds / 60))} min left"
    elif f.history_complete:
        history += ", complete"
    parts.append(history)
    parts.append(f"tiers: {f.tiers or 'not yet'}")
    if f.model:
        parts.append("model: trained")
    elif not f.history_complete:
        parts.append("model: waiting for history")
    else:
        parts.append(f"model: {model_reason or 'training'}")
    if next_entry:
        parts.append(f"next: {next_entry}")
    return " · ".join(parts)
