"""The report: the note, the metrics and the top symbols in the HTML, valid PNGs, a parseable CSV."""

from __future__ import annotations

import base64
import csv
import io
import re
from datetime import date, timedelta

import matplotlib.image
import numpy as np
import pytest

from analysis.charts import PriceHistory
from analysis.quality import QualityResult
from analysis.recommend import Recommendation, Skipped
from analysis.report import CSV_COLUMNS, NOT_ADVICE, render_report
from analysis.validation import FoldMetrics, ModelMetrics

DAY = date(2026, 11, 25)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def metrics(auc: float, ic: float = 0.031, hit: float = 0.547, tstat: float = 2.6) -> ModelMetrics:
    fold = FoldMetrics(1, date(2025, 12, 1), date(2026, 6, 1), date(2026, 6, 9), date(2026, 11, 17), 200_000,
                       310_000, auc, ic, hit)  # fmt: skip
    return ModelMetrics(5, (fold,), auc, ic, 0.05, tstat, hit, 0.1, 112, 700_000)


def recs(n: int = 30) -> list[Recommendation]:
    out = []
    for k in range(1, n + 1):
        action = "buy" if k <= 3 else "sell" if k > n - 3 else "hold"
        out.append(
            Recommendation(f"SYM{k:02d}", k, action, 0.9 - k / 100, (f"RSI 14 = {20 + k:.1f}", 'x, "y"'))
        )
    return out


def history(seed: int) -> PriceHistory:
    rng = np.random.default_rng(seed)
    dates = [DAY - timedelta(days=120 - i) for i in range(120)]
    return PriceHistory(dates, list(50 * np.exp(np.cumsum(rng.normal(0, 0.02, 120)))))


QUALITY = [
    QualityResult(
        "freshness", "tier:core", 0.991, 0.95, True, "991 of 1000 symbols have a bar for 2026-11-25"
    ),
    QualityResult("price_jump", "all", 0.02, 0.01, False, "2 of 100 symbols moved more than 40 %"),
    QualityResult("price_jump", "symbol:ABC", 0.55, 0.4, False, "+55.0 %"),
]
USAGE = [
    {"provider": "polygon", "calls": 3, "limit": "5/minute", "cost_usd": 0.0},
    {"provider": "finnhub", "calls": 6012, "limit": "60/minute"},
]


@pytest.fixture(scope="module")
def report():
    return render_report(
        DAY,
        recs(),
        {"SYM01": history(1), "SYM02": history(2)},
        QUALITY,
        metrics(0.5731),
        USAGE,
        skipped=[
            Skipped("NEW", "only 40 days of history (needs 252)"),
            Skipped("OLD", "no bar for 2026-11-25"),
        ],
        model_version="model-1-h5-20261125-abc",
    )


def test_html_has_the_note_metrics_and_top_symbols(report):
    html = report.html
    assert html.count(NOT_ADVICE) == 2  # top and bottom
    assert "AUC 0.573" in html and "+0.031" in html and "54.7 %" in html
    assert "model-1-h5-20261125-abc" in html
    for symbol in ("SYM01", "SYM02", "SYM03", "SYM30"):
        assert f"<td>{symbol}</td>" in html
    assert "no better than chance" not in html
    assert "2026-11-25" in html


def test_html_has_quality_usage_and_skips(report):
    html = report.html
    assert "1 data-quality check(s) failed" in html and "FAILED" in html
    assert "price_jump: 1" in html  # one symbol flagged individually
    assert "<td>finnhub</td><td>6012</td><td>60/minute</td><td></td>" in html
    assert "too little history: 1" in html and "no bar that day: 1" in html
    assert "<td>NEW</td><td>only 40 days of history (needs 252)</td>" in html


@pytest.mark.parametrize(
    ("auc", "tstat", "warning"),
    [
        (0.5, 0.3, "no better than chance"),
        (0.512, 1.9, "no better than chance"),
        (0.488, -1.0, "no better than chance"),
        (0.512, 6.0, "barely better than chance"),  # significant but tiny
        (0.45, -4.0, "worse than chance"),
        (0.53, 1.5, None),
        (0.56, 5.0, None),
    ],
)
def test_chance_warning(auc, tstat, warning):
    html = render_report(DAY, recs(), {}, [], metrics(auc, tstat=tstat), []).html
    warnings = re.findall(r"<strong>Warning: ([^<.]+)\.</strong>", html)
    assert warnings == ([warning] if warning else [])


def test_charts_are_valid_pngs_linked_by_name(report):
    assert set(report.charts) == {"top_prices.png", "score_distribution.png", "data_quality.png"}
    for name, data in report.charts.items():
        assert data.startswith(PNG_MAGIC), name
        image = matplotlib.image.imread(io.BytesIO(data), format="png")
        assert image.shape[0] > 100 and image.shape[1] > 100
        assert f'src="{name}"' in report.html


def test_charts_can_be_embedded():
    out = render_report(DAY, recs(), {"SYM01": history(1)}, QUALITY, metrics(0.6), USAGE, embed_charts=True)
    sources = re.findall(r'src="data:image/png;base64,([^"]+)"', out.html)
    assert len(sources) == 3
    assert all(base64.b64decode(s).startswith(PNG_MAGIC) for s in sources)


def test_csv_parses_with_the_expected_columns(report):
    rows = list(csv.DictReader(io.StringIO(report.csv)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 30
    assert [r["symbol"] for r in rows[:3]] == ["SYM01", "SYM02", "SYM03"]
    assert rows[0] == {
        "day": "2026-11-25",
        "rank": "1",
        "action": "buy",
        "symbol": "SYM01",
        "score": "0.890000",
        "reasons": 'RSI 14 = 21.0; x, "y"',
    }


def test_text_is_escaped():
    evil = [Recommendation("<script>", 1, "buy", 0.7, ("a < b",))]
    html = render_report(DAY, evil, {}, [], metrics(0.6), [{"provider": "<b>x</b>"}]).html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>x</b>" not in html


def test_an_empty_day_still_renders():
    out = render_report(DAY, [], {}, [], None, [])
    assert NOT_ADVICE in out.html and "No validated model" in out.html
    assert "No buy recommendations today" in out.html and "No API usage recorded" in out.html
    assert out.csv.strip() == ",".join(CSV_COLUMNS)
    assert all(png.startswith(PNG_MAGIC) for png in out.charts.values())


def test_mismatched_history_is_a_clear_error():
    with pytest.raises(ValueError, match="3 dates but 2 closes"):
        PriceHistory([DAY] * 3, [1.0, 2.0])


def test_a_skipped_day_says_why_at_the_top_instead_of_a_ranking():
    reason = "not enough history: 12 sessions up to 2026-11-25, 257 needed (<details>)"
    skipped = [Skipped("NEW", "only 12 days of history (needs 252)")]
    html = render_report(DAY, [], {}, QUALITY, None, USAGE, skipped=skipped, skipped_reason=reason).html
    banner = html.index("<strong>Recommendations skipped:</strong> not enough history: 12 sessions")
    assert "(&lt;details&gt;)" in html  # escaped like every other text
    assert html.index("<h1>") < banner < html.index("<h2>Data quality</h2>")
    assert "buys</h2>" not in html and "sells</h2>" not in html and "symbols ranked" not in html
    assert "No validated model" not in html  # the banner already says there is no model
    assert "<td>NEW</td><td>only 12 days of history (needs 252)</td>" in html  # each symbol's reason stays
    assert html.count(NOT_ADVICE) == 2
    assert "Recommendations skipped" not in render_report(DAY, [], {}, [], None, []).html
