"""HTTP clients for the four market-data providers, one module per provider.

Clients receive a ``ProviderConfig``, a ``requests.Session``, a ``ratelimits.Limiter`` and the provider's
policy; every call returns one ``FetchResult`` (an ``Outcome`` plus validated, normalised records).
This package imports nothing from tasks/, storage/, worker/ or sandbox/.
"""

from providers.alphavantage import AlphaVantageClient
from providers.config import ConfigError, ProviderConfig
from providers.finnhub import FinnhubClient
from providers.polygon import PolygonClient
from providers.records import DailyBar, Quote, SymbolInfo
from providers.results import RETRYABLE, FetchResult, Outcome, Verdict
from providers.symbols import InvalidSymbol, canonical, provider_spelling
from providers.yahoo import YahooClient

CLIENTS = {
    "finnhub": FinnhubClient,
    "polygon": PolygonClient,
    "alphavantage": AlphaVantageClient,
    "yahoo": YahooClient,
}

__all__ = [
    "CLIENTS",
    "RETRYABLE",
    "AlphaVantageClient",
    "ConfigError",
    "DailyBar",
    "FetchResult",
    "FinnhubClient",
    "InvalidSymbol",
    "Outcome",
    "PolygonClient",
    "ProviderConfig",
    "Quote",
    "SymbolInfo",
    "Verdict",
    "YahooClient",
    "canonical",
    "provider_spelling",
]
