"""Queue ``control``: the feeder, which lets admitted calls out as the quota comes due (``jobs.feeder``)."""

from __future__ import annotations

from jobs import feeder, names
from runtime import resources
from tasks.base import tickerbeat_task


@tickerbeat_task(name=names.FEED, expires=60)
def feed(chain: bool = False) -> dict:
    """One feeder pass over every provider; re-arms while work is pending. Returns what it did."""
    report, rearm = feeder.feed(resources.current(), chained=chain)
    if rearm:
        feed.apply_async(kwargs={"chain": True}, countdown=feeder.FEED_INTERVAL)
    return report
