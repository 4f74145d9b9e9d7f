"""The Redis layout of the metrics (monitoring/recording.py): fields, buckets and decoding, from tables."""

from __future__ import annotations

import pytest

from monitoring.recording import CALL_BUCKETS, bucket_for, counts, cumulative, field, parse_field

BOUNDS = (0.1, 1.0, 10.0)


@pytest.mark.parametrize(
    ("seconds", "le"),
    [
        (0.0, "0.1"),
        (0.1, "0.1"),
        (0.10001, "1.0"),
        (1.0, "1.0"),
        (9.99, "10.0"),
        (10.5, "+Inf"),
        (1e9, "+Inf"),
    ],
)
def test_an_observation_lands_in_the_first_bucket_at_or_above_it(seconds, le):
    assert bucket_for(seconds, BOUNDS) == le


def test_call_buckets_are_increasing_seconds():
    assert list(CALL_BUCKETS) == sorted(set(CALL_BUCKETS)) and CALL_BUCKETS[0] > 0


@pytest.mark.parametrize(
    "labels",
    [("finnhub", "quote", "ok"), ("a,b", 'with "quotes"', "pipe|tab\tnewline\n"), ("ünïcode", "", "x")],
)
def test_fields_round_trip_any_label_values(labels):
    assert parse_field(field(*labels)) == list(labels)
    assert parse_field(field(*labels).encode()) == list(labels)


@pytest.mark.parametrize("raw", [b"not json", '{"a": 1}', "[1, 2]", "", b"\xff"])
def test_foreign_fields_are_ignored(raw):
    assert parse_field(raw) is None


def test_histogram_decoding_is_cumulative_and_keeps_every_count():
    raw = {
        field("p", "e", "0.1"): b"2",
        field("p", "e", "10.0"): b"1",
        field("p", "e", "+Inf"): b"1",
        field("p", "e", "0.5"): b"3",  # a bound this layout does not declare: counted in 1.0
        field("p", "e", "sum"): b"42.5",
        field("q", "e", "1.0"): "4",  # str values (decode_responses) too; no sum written yet
        field("p", "e"): b"7",  # wrong width: ignored
        b"junk": b"1",
        field("p", "e", "0.1", "x"): b"1",
    }
    assert cumulative(raw, BOUNDS, 2) == {
        ("p", "e"): ([("0.1", 2.0), ("1.0", 5.0), ("10.0", 6.0), ("+Inf", 7.0)], 42.5),
        ("q", "e"): ([("0.1", 0.0), ("1.0", 4.0), ("10.0", 4.0), ("+Inf", 4.0)], 0.0),
    }


def test_counter_decoding():
    raw = {field("a", "b", "c"): b"3", field("a", "b", "d"): "5", field("a", "b"): b"1", b"x": b"2"}
    assert counts(raw, 3) == {("a", "b", "c"): 3.0, ("a", "b", "d"): 5.0}
