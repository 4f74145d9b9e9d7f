"""The daily report: HTML (with PNG charts linked by file name, or embedded), a CSV of every recommendation.

``render_report`` does no file I/O: the caller writes ``Report.html`` to e.g. ``report.html``, ``Report.csv``
beside it, and each ``Report.charts`` entry under its file name in the same directory.
"""

from __future__ import annotations

import base64
import csv
import io
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

from analysis.charts import PriceHistory, price_chart, quality_chart, score_histogram
from analysis.quality import QualityResult
from analysis.recommend import Recommendation, Skipped
from analysis.validation import ModelMetrics

__all__ = ["CSV_COLUMNS", "NOT_ADVICE", "PriceHistory", "Report", "render_report"]

NOT_ADVICE = (
    "Not investment advice. This report is produced automatically from free market data and a statistical "
    "model; it may be wrong, late or incomplete. Past out-of-sample results do not guarantee future returns. "
    "Do your own research and consider a licensed adviser before making any investment decision."
)
CSV_COLUMNS = ("day", "rank", "symbol", "action", "score", "reasons")
CHART_FILES = ("top_prices.png", "score_distribution.png", "data_quality.png")

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
.note { border: 2px solid #c62828; background: #fff3f3; padding: 0.8em 1em; font-weight: 600; }
.warn { border: 2px solid #ef6c00; background: #fff8e1; padding: 0.8em 1em; }
.bad { color: #c62828; font-weight: 600; }
img { max-width: 100%; }
"""


_WARNINGS = {
    "chance": ("no better than chance", "Treat the ranking below as random."),
    "weak": (
        "barely better than chance",
        "The ranking has a small average edge across many symbols; any single pick is close to a coin flip.",
    ),
    "worse": ("worse than chance", "The ranking pointed the wrong way out of sample: do not act on it."),
    "unvalidated": ("not validated", "There was too little history to test the model out of sample."),
}


@dataclass(frozen=True)
class Report:
    html: str
    csv: str
    charts: dict[str, bytes]  # file name -> PNG bytes


def _num(x: float, fmt: str = ".3f") -> str:
    return format(x, fmt) if isinstance(x, int | float) and math.isfinite(x) else "n/a"


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(name: str, charts: Mapping[str, bytes], embed: bool, alt: str) -> str:
    src = f"data:image/png;base64,{base64.b64encode(charts[name]).decode()}" if embed else escape(name)
    return f'<p><img src="{src}" alt="{escape(alt)}"></p>'


def _model_section(metrics: ModelMetrics | None, model_version: str | None) -> str:
    if metrics is None:
        return '<h2>Model</h2><p class="warn">No validated model: the ranking has no measured predictive value.</p>'
    parts = ["<h2>Model (out-of-sample evidence)</h2>"]
    if model_version:
        parts.append(f"<p>Model version <code>{escape(model_version)}</code>.</p>")
    parts.append(f"<p>{escape(metrics.summary())}</p>")
    warning = _WARNINGS.get(metrics.verdict)
    if warning:
        headline, explanation = warning
        parts.append(
            f'<p class="warn"><strong>Warning: {headline}.</strong> The out-of-sample AUC is '
            f"{_num(metrics.auc)} (0.5 = chance). {explanation}</p>"
        )
    rows = [
        (f.fold, f"{f.train_start} .. {f.train_end}", f"{f.test_start} .. {f.test_end}", f"{f.n_train:,}",
         f"{f.n_test:,}", _num(f.auc), _num(f.rank_ic, "+.3f"), _num(f.top_hit_rate * 100, ".1f") + " %")
        for f in metrics.folds
    ]  # fmt: skip
    headers = ("fold", "trained on", "tested on", "train rows", "test rows", "AUC", "rank IC", "top hit rate")
    parts.append(_table(headers, rows))
    parts.append(
        "<p>AUC 0.5, rank IC 0 and a 50 % hit rate are what a coin would score. Scores rank symbols within "
        "a day; they are not expected returns.</p>"
    )
    return "".join(parts)


def _recommendation_rows(recs: Sequence[Recommendation]) -> list[tuple[object, ...]]:
    return [(r.rank, r.symbol, r.action, _num(r.score), "; ".join(r.reasons)) for r in recs]


def _quality_section(quality: Sequence[QualityResult]) -> str:
    aggregate = [r for r in quality if not r.scope.startswith("symbol:")]
    per_symbol = Counter(r.check for r in quality if r.scope.startswith("symbol:"))
    failed = [r for r in aggregate if not r.ok]
    status = (
        f'<p class="bad">{len(failed)} data-quality check(s) failed: read the recommendations with care.</p>'
        if failed
        else "<p>All data-quality checks passed.</p>"
    )
    rows = [(r.check, r.scope, _num(r.value, ".4g"), _num(r.threshold, ".4g"), "ok" if r.ok else "FAILED", r.detail)
            for r in aggregate]  # fmt: skip
    flagged = ", ".join(f"{check}: {count:,}" for check, count in sorted(per_symbol.items()))
    return (
        "<h2>Data quality</h2>"
        + status
        + _table(("check", "scope", "value", "threshold", "status", "detail"), rows)
        + (f"<p>Symbols flagged individually: {escape(flagged)}.</p>" if flagged else "")
    )


def _usage_section(usage: Sequence[Mapping[str, object]]) -> str:
    if not usage:
        return "<h2>API usage</h2><p>No API usage recorded.</p>"
    headers: list[str] = []
    for row in usage:
        headers += [k for k in row if k not in headers]
    return "<h2>API usage</h2>" + _table(headers, [[row.get(h, "") for h in headers] for row in usage])


_SKIP_KINDS = (
    ("no bar", "no bar that day"),
    ("only ", "too little history"),
    ("no value", "missing indicator values"),
    ("no model", "no model score"),
)


def _skip_kind(reason: str) -> str:
    return next((kind for prefix, kind in _SKIP_KINDS if reason.startswith(prefix)), "other")


def _skipped_section(skipped: Sequence[Skipped]) -> str:
    if not skipped:
        return ""
    kinds = Counter(_skip_kind(s.reason) for s in skipped)
    summary = ", ".join(f"{kind}: {n:,}" for kind, n in kinds.most_common())
    return (
        f"<h2>Not ranked ({len(skipped):,} symbols)</h2><p>{escape(summary)}</p>"
        "<details><summary>Every skipped symbol and why</summary>"
        + _table(("symbol", "reason"), [(s.symbol, s.reason) for s in skipped])
        + "</details>"
    )


def _csv(day: date, recs: Sequence[Recommendation]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in recs:
        writer.writerow((day.isoformat(), r.rank, r.symbol, r.action, f"{r.score:.6f}", "; ".join(r.reasons)))
    return out.getvalue()


def render_report(
    day: date,
    recommendations: Sequence[Recommendation],
    top_price_history: Mapping[str, PriceHistory],
    quality: Sequence[QualityResult],
    model_metrics: ModelMetrics | None,
    usage: Sequence[Mapping[str, object]],
    *,
    skipped: Sequence[Skipped] = (),
    skipped_reason: str | None = None,
    model_version: str | None = None,
    top_n: int = 25,
    embed_charts: bool = False,
) -> Report:
    """The day's report.

    ``recommendations`` ranked (rank 1 first); ``top_price_history`` the price histories to chart (the
    caller picks them, e.g. the top buys); ``usage`` rows such as ``{"provider": ..., "calls": ...,
    "limit": ...}``, shown as given. The HTML lists the ``top_n`` buys and sells; the CSV lists every
    recommendation. With ``embed_charts`` the PNGs are inlined as data URIs instead of linked by file name.
    ``skipped_reason``: the day has no recommendations at all (e.g. too little history to train the model);
    the report then says so and why at the top, in place of the lists and the score chart.
    """
    recs = sorted(recommendations, key=lambda r: r.rank)
    charts = {
        CHART_FILES[0]: price_chart(top_price_history, f"Top picks {day.isoformat()}: close, SMA 20, SMA 50"),
        CHART_FILES[1]: score_histogram([r.score for r in recs], [r.action for r in recs]),
        CHART_FILES[2]: quality_chart(quality),
    }
    buys = [r for r in recs if r.action == "buy"][:top_n]
    sells = [r for r in recs if r.action == "sell"][-top_n:][::-1]
    counts = Counter(r.action for r in recs)
    headers = ("rank", "symbol", "action", "score", "reasons")
    if skipped_reason:
        ranking = [
            f'<p class="warn" id="recommendations-skipped"><strong>Recommendations skipped:</strong> '
            f"{escape(skipped_reason)}. No symbol is ranked today; each one's own reason is listed below.</p>",
            *([_model_section(model_metrics, model_version)] if model_metrics is not None else []),
        ]
    else:
        ranking = [
            f"<p>{len(recs):,} symbols ranked: {counts['buy']:,} buy, {counts['hold']:,} hold, "
            f"{counts['sell']:,} sell; {len(skipped):,} not ranked. The full ranking is in the CSV.</p>",
            _model_section(model_metrics, model_version),
            f"<h2>Top {len(buys)} buys</h2>",
            _table(headers, _recommendation_rows(buys)) if buys else "<p>No buy recommendations today.</p>",
            _img(CHART_FILES[0], charts, embed_charts, "price charts of the top picks"),
            f"<h2>Bottom {len(sells)} sells</h2>",
            _table(headers, _recommendation_rows(sells))
            if sells
            else "<p>No sell recommendations today.</p>",
            "<h2>Score distribution</h2>",
            _img(CHART_FILES[1], charts, embed_charts, "histogram of model scores"),
        ]
    body = [
        f"<h1>tickerbeat daily report: {day.isoformat()}</h1>",
        f'<p class="note">{escape(NOT_ADVICE)}</p>',
        *ranking,
        _quality_section(quality),
        _img(CHART_FILES[2], charts, embed_charts, "data-quality checks against thresholds"),
        _usage_section(usage),
        _skipped_section(skipped),
        "<p>Reasons describe each symbol's indicator values; they are not the model's explanation of its score.</p>",
        f'<p class="note">{escape(NOT_ADVICE)}</p>',
    ]
    html = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>tickerbeat {day.isoformat()}</title><style>{_STYLE}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
    return Report(html=html, csv=_csv(day, recs), charts=charts)
