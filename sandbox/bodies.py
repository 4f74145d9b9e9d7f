"""The providers' fixed answer texts, in one place (docs/providers.md is the source for each).

Texts marked "not in docs/providers.md" are the sandbox's best reading of the real service; clients must not
depend on more than the documented keys for those.
"""

from __future__ import annotations

# -- Finnhub --------------------------------------------------------------------------------------------
FINNHUB_LIMIT = "API limit reached. Please try again later. Remaining Limit: 0"
FINNHUB_SIGN_UP = "API limit reached. Please sign up for a free account to continue using the API."
FINNHUB_NO_ACCESS = "You don't have access to this resource."
FINNHUB_INVALID_KEY = "Invalid API key."  # not in docs/providers.md (only with --keys)
FINNHUB_UNKNOWN_QUOTE = {"c": 0, "d": None, "dp": None, "h": 0, "l": 0, "o": 0, "pc": 0, "t": 0}

# -- Polygon / Massive ----------------------------------------------------------------------------------
POLYGON_LIMIT = (
    "You've exceeded the maximum requests per minute, please wait or upgrade your subscription to continue. "
    "https://polygon.io/pricing"
)
POLYGON_NOT_ENTITLED = (
    "You are not entitled to this data. Please upgrade your plan at https://massive.com/pricing"
)
POLYGON_TODAY = "Attempted to request today's data before end of day. Please upgrade your plan at https://massive.com/pricing"
POLYGON_TIMEFRAME = (
    "Your plan doesn't include this data timeframe. Please upgrade your plan at https://massive.com/pricing"
)
POLYGON_UNKNOWN_KEY = "Unknown API Key"

# -- Alpha Vantage --------------------------------------------------------------------------------------
AV_DAILY = (
    "We have detected your API key as {key} and our standard API rate limit is 25 requests per day. "
    "Please subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly remove "
    "all daily rate limits."
)
AV_DAILY_VARIANT = (
    "Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day. Please subscribe to "
    "any of the premium plans at https://www.alphavantage.co/premium/ to instantly remove all daily rate limits."
)
AV_BURST = (
    "Thank you for using Alpha Vantage! Please consider spreading out your free API requests more sparingly "
    "(1 request per second). You may subscribe to any of the premium plans at https://www.alphavantage.co/premium/ "
    "to lift the free key rate limit (25 requests per day), raise the per-second burst limit, and instantly unlock "
    "all premium endpoints"
)
AV_NOTE = (
    "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute and 500 calls per "
    "day. Please visit https://www.alphavantage.co/premium/ if you would like to target a higher API call frequency."
)
AV_PREMIUM = (
    "Thank you for using Alpha Vantage! This is a premium endpoint. You may subscribe to any of the premium plans "
    "at https://www.alphavantage.co/premium/ to instantly unlock all premium endpoints"
)
AV_INVALID_CALL = "Invalid API call. Please retry or visit the documentation (https://www.alphavantage.co/documentation/) for {function}."
AV_BAD_KEY = (
    "the parameter apikey is invalid or missing. Please claim your free API key on "
    "(https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds."
)
AV_UNKNOWN_FUNCTION = "This API function ({function}) does not exist."  # not in docs/providers.md

# -- Yahoo ----------------------------------------------------------------------------------------------
YAHOO_LIMIT = "Too Many Requests"
YAHOO_EDGE_LIMIT = "Edge: Too Many Requests"
YAHOO_NOT_FOUND = {"code": "Not Found", "description": "No data found, symbol may be delisted"}

# -- any provider: injected server errors (not in docs/providers.md: what a load balancer answers) -----------
SERVER_ERRORS: tuple[tuple[int, str], ...] = (
    (500, "Internal Server Error"),
    (502, "Bad Gateway"),
    (503, "Service Unavailable"),
)


def server_error_html(status: int, reason: str) -> bytes:
    return f"<html><head><title>{status} {reason}</title></head><body><h1>{status} {reason}</h1></body></html>".encode()
