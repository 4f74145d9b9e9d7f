"""One source for every default in the docs: ``runtime/variables.py``. The tables of docs/configuration.md
and docs/quotas.md are printed from it (``python -m runtime.settings --markdown``), a default quoted in prose
is the code's, and the quota guard is quoted as the service's 0.25 s wherever a default is named (the
``Limiter`` class's own 0.02 s only as the class's)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import ratelimits
from runtime.settings import Settings
from runtime.variables import BY_NAME, PREFIXES, PROVIDER, VARIABLES, markdown_table, spec

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(
    r"<!-- generated: python -m runtime.settings --markdown([^\n]*?) -->\n(.*?)<!-- end generated -->", re.S
)
NAMES = "|".join(re.escape(v.name) for v in VARIABLES)
# `VAR` (30 s), `VAR` (default 40, `VAR` 50, (`VAR`, 3600 s)
PROSE = re.compile(rf"`({NAMES})`(?:,| \(default| \()? ?(\d+(?:\.\d+)?)\b")
DEFAULT_SECONDS = re.compile(r"default[^.;]{0,40}?(\d+(?:\.\d+)?) s\b|(\d+(?:\.\d+)?) s default")


class Recording(dict):
    """An environment that remembers every name read."""

    def __init__(self) -> None:
        super().__init__()
        self.read: set[str] = set()

    def get(self, name, default=None):
        self.read.add(name)
        return super().get(name, default)


def blocks() -> list[tuple[Path, list[str], str]]:
    return [(path, match.group(1).split(), match.group(2)) for path in DOCS
            for match in BLOCK.finditer(path.read_text())]  # fmt: skip


def test_the_catalogue_is_every_variable_settings_reads():
    env = Recording()
    Settings.from_env(env)
    assert len(env.read) > 40  # the recording works
    assert {spec(name).name for name in env.read} == set(BY_NAME)


def test_a_catalogue_default_is_the_real_default():
    real = Settings.from_env({})
    for v in VARIABLES:
        if v.default is None:
            continue
        names = (
            [prefix + v.name[len(PROVIDER) :] for prefix in PREFIXES]
            if v.name.startswith(PROVIDER)
            else [v.name]
        )
        for name in names:
            assert Settings.from_env({name: v.default}) == real, name


def test_the_generated_tables_are_current():
    found = blocks()
    assert any(path.name == "configuration.md" and not names for path, names, _ in found), "the whole table"
    assert any(path.name == "quotas.md" for path, _, _ in found)
    for path, names, table in found:
        assert table == markdown_table(names), (
            f"{path.relative_to(ROOT)}: the table differs from the code's: run python -m runtime.settings "
            f"--markdown {' '.join(names)} and paste it between the markers"
        )


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_a_default_quoted_in_prose_is_the_codes(path):
    text = BLOCK.sub("", path.read_text())
    for name, quoted in PROSE.findall(text):
        default = BY_NAME[name].default
        if default is not None and re.fullmatch(r"\d+(\.\d+)?", default):
            assert float(quoted) == float(default), (
                f"{path.name}: `{name}` quoted as {quoted}, the code says {default}"
            )


def test_the_prose_check_sees_what_it_is_about():
    readme = (ROOT / "README.md").read_text()
    assert ("TICKERBEAT_MONTHLY_BUDGET_USD", "50") in PROSE.findall(readme)
    assert PROSE.findall("`TICKERBEAT_QUOTA_MAX_WAIT_SECONDS` (30 s) and (`TICKERBEAT_POOL_LEASE_SECONDS`, 300 s)") == [
        ("TICKERBEAT_QUOTA_MAX_WAIT_SECONDS", "30"), ("TICKERBEAT_POOL_LEASE_SECONDS", "300")]  # fmt: skip


def test_the_docs_quote_the_codes_quota_guard():
    guard = Settings.from_env({}).quota_guard_seconds
    class_default = inspect.signature(ratelimits.Limiter).parameters["guard"].default
    assert guard == float(BY_NAME["TICKERBEAT_QUOTA_GUARD_SECONDS"].default) and guard != class_default
    for path in DOCS:
        for sentence in re.split(r"(?<=[.;])\s", BLOCK.sub("", path.read_text())):
            if "guard" not in sentence.lower():
                continue
            for a, b in DEFAULT_SECONDS.findall(sentence):
                value = float(a or b)
                assert value == guard or (value == class_default and "Limiter" in sentence), (
                    f"{path.name}: a guard default of {value:g} s, the service's is {guard:g} s: {sentence!r}"
                )
    for name in ("quotas.md", "providers.md"):
        text = (ROOT / "docs" / name).read_text()
        assert re.search(rf"default[^.]*?\b{guard:g} s\b", text.replace("\n", " ")), name
