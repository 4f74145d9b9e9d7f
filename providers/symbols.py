"""US ticker symbols: one strict canonical form, and each provider's spelling of it.

Canonical form: 1-5 capital letters, optionally a class suffix of 1-2 capital letters after a dot
(``AAPL``, ``GOOGL``, ``BRK.B``). Input with a dash class separator (``BRK-B``, Yahoo's spelling) is
accepted and normalised to the dot form; nothing else is normalised (no case folding, no trimming), so a
typo fails loudly instead of fetching some other ticker. Symbols are checked before they reach a URL.

Finnhub, Polygon and Alpha Vantage spell class shares with a dot; Yahoo with a dash.
"""

from __future__ import annotations

import re

from providers.redaction import redact

_CANONICAL = re.compile(r"[A-Z]{1,5}(?:\.[A-Z]{1,2})?")
_DASHED = re.compile(r"([A-Z]{1,5})-([A-Z]{1,2})")

# Providers whose URLs spell the class separator with a dash instead of a dot.
_DASH_PROVIDERS = frozenset({"yahoo"})


class InvalidSymbol(ValueError):
    """A symbol that is not a US ticker in the accepted form: a caller's mistake, not a provider outcome."""


def parse_symbol(text: object) -> str | None:
    """The canonical form of ``text``, or None when it is not an acceptable ticker. Never raises."""
    if not isinstance(text, str):
        return None
    if _CANONICAL.fullmatch(text):
        return text
    dashed = _DASHED.fullmatch(text)
    if dashed:
        return f"{dashed.group(1)}.{dashed.group(2)}"
    return None


def canonical(text: object) -> str:
    """The canonical form of ``text``; raises ``InvalidSymbol`` with a message saying what is accepted."""
    symbol = parse_symbol(text)
    if symbol is None:
        shown = f"a {type(text).__name__}"
        if isinstance(text, str):
            cleaned = redact(text)  # before truncating: a cut key would no longer match
            shown = repr(cleaned[:40] + ("..." if len(cleaned) > 40 else ""))
        raise InvalidSymbol(
            f"invalid symbol {shown}: expected 1-5 capital letters with an optional class suffix "
            "such as 'BRK.B' (or 'BRK-B')"
        )
    return symbol


def provider_spelling(provider: str, symbol: str) -> str:
    """How ``provider`` spells the canonical ``symbol`` in a URL (validated first)."""
    symbol = canonical(symbol)
    if provider in _DASH_PROVIDERS:
        return symbol.replace(".", "-")
    return symbol
