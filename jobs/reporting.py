"""Writing the daily report: ``reports/<day>.html`` (PNG charts embedded, and also written beside it as
``reports/<day>-<chart>.png``) and ``reports/<day>.csv``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from storage import quality_for, usage_for
from storage.models import SKIPPED_CHECK

TOP_CHARTED = 5


def write_report(ctx, day: date, recs, skipped, panel, trained, skipped_reason: str | None = None) -> str:
    """Render and write the day's report; returns the HTML file's path. ``trained`` is None and
    ``skipped_reason`` says why when the day has no recommendations at all."""
    from analysis.charts import PriceHistory  # matplotlib: loaded by the one task that draws
    from analysis.quality import QualityResult
    from analysis.report import render_report

    with ctx.db.session() as s:
        quality = [
            QualityResult(q.check, q.scope, q.value if q.value is not None else float("nan"),
                          q.threshold if q.threshold is not None else float("nan"), q.ok, (q.detail or {}).get("text", ""))
            for q in quality_for(s, day) if q.check not in ("not_recommended", SKIPPED_CHECK)
        ]  # fmt: skip
        usage = [{"provider": p, **counts} for p, counts in sorted(usage_for(s, day).items())]
    top = [r.symbol for r in sorted(recs, key=lambda r: r.rank)[:TOP_CHARTED]]
    history = {sym: PriceHistory(panel.dates, panel.close[:, panel.symbols.index(sym)]) for sym in top}
    report = render_report(day, recs, history, quality, trained.metrics if trained else None, usage,
                           skipped=skipped, model_version=trained.version if trained else None,
                           skipped_reason=skipped_reason, embed_charts=True)  # fmt: skip
    out = Path(ctx.settings.reports_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, png in report.charts.items():
        (out / f"{day.isoformat()}-{name}").write_bytes(png)
    (out / f"{day.isoformat()}.csv").write_text(report.csv)
    html = out / f"{day.isoformat()}.html"
    html.write_text(report.html)
    return str(html)
