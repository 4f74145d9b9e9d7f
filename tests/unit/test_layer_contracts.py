"""Truths that two layers must each declare (the import rules keep analysis and storage apart) and the
tasks layer joins: they must agree."""

from analysis.indicators import INDICATOR_NAMES
from storage.models import INDICATORS, Indicator


def test_storage_has_a_column_for_every_indicator_the_analysis_computes():
    assert tuple(INDICATORS) == tuple(INDICATOR_NAMES)
    assert set(INDICATOR_NAMES) <= set(Indicator.__table__.columns.keys())


def test_the_actions_the_ranking_gives_are_the_ones_storage_accepts():
    from analysis.recommend import ACTIONS as RANKED
    from storage.models import ACTIONS as STORED

    assert tuple(RANKED) == tuple(STORED)
