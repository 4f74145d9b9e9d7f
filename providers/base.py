"""The shared life of one provider call: quota, request, classification, feedback, parsing, validation.

A client RECEIVES its config, a ``requests.Session``, a ``ratelimits.Limiter`` and the provider's policy.
Every call:

1. checks the key is configured (else CONFIG_ERROR, nothing spent);
2. ``limiter.acquire(provider, policy, cost=1, max_wait)`` BEFORE sending: ``QuotaWait`` becomes DEFERRED
   (no call, ``retry_at`` = its ``until``); ``QuotaUnavailable`` propagates (fail closed, no call);
3. sends one GET with ``(connect, read)`` timeouts and a total ``deadline``, no automatic retries, no
   redirects followed (a redirect could carry a key to another host). The body is streamed and each wait
   for bytes is cut to what is left of the deadline, so an answer trickling a byte at a time ends as
   TIMEOUT when the deadline passes (a read timeout alone would wait for it for ever);
4. classifies the answer with the provider module's pure ``classify``; a THROTTLED or QUOTA_EXHAUSTED
   verdict is reported to ``limiter.report_throttle`` so every worker backs off, and ``retry_at`` is the
   blocked-until instant it returns;
5. parses an OK body into records, validates them (``providers.validation``) and returns one
   ``FetchResult``. Retries belong to the task layer.

Sessions: the client mounts a plain ``HTTPAdapter(max_retries=0)`` for its base URL when the session's
adapter there is an ``HTTPAdapter`` configured to retry; a session whose adapter is not an
``HTTPAdapter`` is used as given and must not retry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

import marketcal
from providers.config import ConfigError, ProviderConfig
from providers.deadline import SLACK, DeadlineExceeded, first_byte_timeouts, read_within
from providers.records import Record
from providers.redaction import install_log_filter, redact, register_secret
from providers.results import FetchResult, Outcome, Verdict
from providers.validation import keep_valid
from providers.wire import BadBody
from ratelimits.errors import QuotaWait

log = logging.getLogger("providers")
install_log_filter()

# Exceptions a parser may raise on an unexpected body shape; anything else is a bug and propagates.
PARSE_ERRORS = (BadBody, KeyError, IndexError, TypeError, ValueError, AttributeError)


@dataclass(frozen=True)
class Answer:
    """An HTTP answer the classifier judged OK: status, headers and the decoded body text."""

    status: int
    headers: Mapping[str, str]
    text: str
    elapsed: float | None = None  # seconds from sending the request to reading the whole body


@dataclass(frozen=True)
class Parsed:
    """A parser's output: records before validation, and rows it already had to drop (e.g. symbols
    outside the accepted form, rows with nulls the record type cannot hold)."""

    records: tuple[Record, ...]
    dropped: int = 0
    cursor: str | None = None


class BaseClient:
    """Base of the four clients. Subclasses set ``provider`` and implement ``_classify`` and ``_auth``."""

    provider: ClassVar[str]
    needs_key: ClassVar[bool] = True

    def __init__(
        self,
        config: ProviderConfig,
        session: requests.Session,
        limiter: Any,
        policy: Any,
        max_wait: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(config, ProviderConfig):
            raise ConfigError(f"{type(self).__name__} needs a ProviderConfig, got {type(config).__name__}")
        if config.name != self.provider:
            raise ConfigError(f"{type(self).__name__} needs a {self.provider!r} config, got {config.name!r}")
        if max_wait < 0:
            raise ConfigError(f"{self.provider}: max_wait must be >= 0 seconds")
        register_secret(config.api_key)
        self.config = config
        self.session = session
        self.limiter = limiter
        self.policy = policy
        self.max_wait = float(max_wait)
        self.clock = clock
        _ensure_no_retries(session, config.base_url)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r}, max_wait={self.max_wait!r})"

    # -- provider specifics -------------------------------------------------------------------------

    def _classify(self, endpoint: str, status: int, headers: Mapping[str, str], body: str) -> Verdict:
        raise NotImplementedError

    def _auth(self, params: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        """(headers, params) carrying the key; the default sends none."""
        return {}, params

    # -- the call ------------------------------------------------------------------------------------

    def _fetch(
        self,
        endpoint: str,
        url: str,
        params: Mapping[str, str] | None,
        parse: Callable[[Answer, datetime], Parsed],
        *,
        symbol: str | None = None,
        empty: Outcome = Outcome.OK,
    ) -> FetchResult:
        """One call end to end. ``empty``: the outcome when the parser finds no rows at all (e.g.
        NOT_FOUND for a previous-close lookup, OK for a holiday's grouped bars)."""
        answer = self._send(endpoint, url, params, symbol)
        if isinstance(answer, FetchResult):
            return answer
        return self._conclude(endpoint, answer, parse, symbol=symbol, empty=empty)

    def _send(
        self, endpoint: str, url: str, params: Mapping[str, str] | None, symbol: str | None
    ) -> Answer | FetchResult:
        """Quota, request and classification; an ``Answer`` when the verdict is OK, else the result."""
        if self.needs_key and not self.config.api_key:
            variable = f"{self.provider.upper()}_API_KEY"
            return self._result(
                endpoint, Outcome.CONFIG_ERROR, symbol, f"{self.provider}: no API key ({variable})"
            )
        # Everything but the send is done before the quota is taken, so the call leaves as close to its
        # granted slot as possible (a provider counts arrivals; jitter after the grant eats the guard).
        headers, query = self._auth(dict(params or {}))
        try:
            prepared = self.session.prepare_request(
                requests.Request("GET", url, params=query, headers=headers)
            )
            settings = self.session.merge_environment_settings(prepared.url, {}, None, None, None)
        except requests.exceptions.RequestException as exc:
            outcome, message = _request_failure(self.provider, endpoint, exc, self.config)
            return self._result(endpoint, outcome, symbol, message)
        try:
            self.limiter.acquire(self.provider, self.policy, cost=1, max_wait=self.max_wait)
        except QuotaWait as wait:
            message = f"{self.provider} {endpoint}: deferred by our quota: {wait}"
            return self._result(endpoint, Outcome.DEFERRED, symbol, message, retry_at=float(wait.until))
        started = time.monotonic()
        deadline = started + self.config.deadline
        try:
            response = self.session.send(
                prepared,
                timeout=first_byte_timeouts(self.config),
                allow_redirects=False,
                **{**settings, "stream": True},
            )
            status, answer_headers = response.status_code, response.headers
            text = read_within(response, deadline).decode("utf-8", errors="replace")
        except (requests.exceptions.RequestException, DeadlineExceeded) as exc:
            elapsed = time.monotonic() - started
            outcome, message = _request_failure(self.provider, endpoint, exc, self.config, elapsed)
            return self._result(endpoint, outcome, symbol, message, elapsed=elapsed)
        elapsed = time.monotonic() - started
        verdict = self._classify(endpoint, status, answer_headers, text)
        log.debug("%s %s %s -> HTTP %s in %.3f s", self.provider, endpoint, symbol or "", status, elapsed)
        if verdict.outcome is Outcome.OK:
            return Answer(status, answer_headers, text, elapsed)
        return self._refusal(endpoint, verdict, symbol, status, elapsed)

    def _refusal(
        self, endpoint: str, verdict: Verdict, symbol: str | None, status: int, elapsed: float | None = None
    ) -> FetchResult:
        """A non-OK verdict as a result; throttles and exhausted quotas are reported to the limiter."""
        retry_at = None
        if verdict.outcome in (Outcome.THROTTLED, Outcome.QUOTA_EXHAUSTED):
            exhausted = verdict.outcome is Outcome.QUOTA_EXHAUSTED
            until = self.limiter.report_throttle(
                self.provider,
                self.policy,
                retry_after=verdict.retry_after,
                exhausted=exhausted,
                reason=redact(verdict.message)[:300],
            )
            if isinstance(until, int | float):
                retry_at = float(until)
            elif verdict.retry_after is not None:
                retry_at = self.clock() + verdict.retry_after
        return self._result(
            endpoint,
            verdict.outcome,
            symbol,
            verdict.message,
            retry_at=retry_at,
            http_status=status,
            elapsed=elapsed,
        )

    def _conclude(
        self,
        endpoint: str,
        answer: Answer,
        parse: Callable[[Answer, datetime], Parsed],
        *,
        symbol: str | None,
        empty: Outcome,
    ) -> FetchResult:
        """Parse and validate an OK answer into the final result."""
        fetched_at = self._now()
        try:
            parsed = parse(answer, fetched_at)
        except PARSE_ERRORS as exc:
            return self._unreadable(endpoint, exc, symbol, answer.status, answer.elapsed)
        return self._finish(
            endpoint,
            parsed,
            fetched_at,
            symbol=symbol,
            empty=empty,
            status=answer.status,
            elapsed=answer.elapsed,
        )

    def _unreadable(
        self, endpoint: str, exc: Exception, symbol: str | None, status: int, elapsed: float | None = None
    ) -> FetchResult:
        message = f"{self.provider} {endpoint}: unreadable body: {type(exc).__name__}: {exc}"
        return self._result(endpoint, Outcome.BAD_DATA, symbol, message, http_status=status, elapsed=elapsed)

    def _finish(
        self,
        endpoint: str,
        parsed: Parsed,
        fetched_at: datetime,
        *,
        symbol: str | None,
        empty: Outcome,
        status: int,
        elapsed: float | None = None,
    ) -> FetchResult:
        """Validate parsed records: all rows bad is BAD_DATA, no rows at all is ``empty``, else OK.
        ``elapsed``: the HTTP time (seconds) the result reports."""
        last = _last_complete(fetched_at)
        kept, bad = keep_valid(parsed.records, provider=self.provider, endpoint=endpoint, last_complete=last)
        dropped = parsed.dropped + bad
        if not kept and dropped:
            message = f"{self.provider} {endpoint}: all {dropped} rows failed validation"
            return self._result(
                endpoint,
                Outcome.BAD_DATA,
                symbol,
                message,
                dropped=dropped,
                http_status=status,
                elapsed=elapsed,
            )
        if not kept:
            message = f"{self.provider} {endpoint}: no data" + (f" for {symbol}" if symbol else "")
            return self._result(
                endpoint, empty, symbol, message, http_status=status, cursor=parsed.cursor, elapsed=elapsed
            )
        message = f"{self.provider} {endpoint}: {len(kept)} records" + (
            f", {dropped} dropped" if dropped else ""
        )
        return self._result(
            endpoint,
            Outcome.OK,
            symbol,
            message,
            records=kept,
            dropped=dropped,
            http_status=status,
            cursor=parsed.cursor,
            elapsed=elapsed,
        )

    def _now(self) -> datetime:
        """The client clock's current instant, as an aware UTC datetime."""
        return datetime.fromtimestamp(self.clock(), UTC)

    def _result(
        self,
        endpoint: str,
        outcome: Outcome,
        symbol: str | None,
        message: str,
        *,
        retry_at: float | None = None,
        records: tuple[Record, ...] = (),
        dropped: int = 0,
        http_status: int | None = None,
        cursor: str | None = None,
        elapsed: float | None = None,
    ) -> FetchResult:
        result = FetchResult(
            provider=self.provider,
            endpoint=endpoint,
            outcome=outcome,
            records=records,
            retry_at=retry_at,
            message=redact(message),
            dropped=dropped,
            symbol=symbol,
            cursor=cursor,
            http_status=http_status,
            elapsed=elapsed,
        )
        level = (
            logging.DEBUG if outcome in (Outcome.OK, Outcome.DEFERRED, Outcome.NOT_FOUND) else logging.WARNING
        )
        log.log(level, "%s -> %s: %s", endpoint, outcome.value, result.message)
        return result

    def _url(self, path: str) -> str:
        return f"{self.config.base_url}{path}"


def _last_complete(at: datetime) -> date | None:
    """The last completed NYSE session at ``at``, or None outside the calendar's range."""
    try:
        return marketcal.last_completed_session(at)
    except ValueError:
        return None


def _request_failure(
    provider: str,
    endpoint: str,
    exc: requests.exceptions.RequestException | DeadlineExceeded,
    config: ProviderConfig,
    elapsed: float = 0.0,
) -> tuple[Outcome, str]:
    """The outcome and redacted message for an exception requests raised, or the deadline's (never
    re-raised: its text may hold the URL, and with it Alpha Vantage's key)."""
    where = f"{provider} {endpoint}"
    errors = requests.exceptions
    if isinstance(exc, DeadlineExceeded) or (
        isinstance(exc, errors.Timeout) and elapsed >= config.deadline - SLACK
    ):
        return Outcome.TIMEOUT, f"{where}: no complete answer within the {config.deadline:g} s deadline"
    if isinstance(exc, errors.Timeout):
        connect, read = config.timeout
        kind = "connect" if isinstance(exc, errors.ConnectTimeout) else "read"
        return Outcome.TRANSIENT, f"{where}: {kind} timeout (connect {connect:g} s, read {read:g} s)"
    if isinstance(exc, errors.ChunkedEncodingError | errors.ContentDecodingError):
        return Outcome.BAD_DATA, f"{where}: truncated or undecodable body: {redact(str(exc))[:200]}"
    if isinstance(
        exc, errors.InvalidURL | errors.MissingSchema | errors.InvalidSchema | errors.InvalidHeader
    ):
        return Outcome.CONFIG_ERROR, f"{where}: invalid request ({type(exc).__name__}); check the base URL"
    return Outcome.TRANSIENT, f"{where}: {type(exc).__name__}: {redact(str(exc))[:300]}"


def _ensure_no_retries(session: requests.Session, base_url: str) -> None:
    """Mount a non-retrying adapter for ``base_url``'s origin when the current one would retry."""
    try:
        adapter = session.get_adapter(base_url)
    except requests.exceptions.InvalidSchema:
        adapter = None
    if isinstance(adapter, HTTPAdapter):
        retries = adapter.max_retries
        if retries.total in (0, False) and not retries.status_forcelist:
            return
    elif adapter is not None:
        return
    parts = urlsplit(base_url)
    session.mount(f"{parts.scheme}://{parts.netloc}/", HTTPAdapter(max_retries=0))


def same_origin(url: str, base_url: str) -> bool:
    """True when ``url`` has the scheme and host:port of ``base_url`` (where a key may be sent)."""
    a, b = urlsplit(url), urlsplit(base_url)
    return (a.scheme, a.netloc.lower()) == (b.scheme, b.netloc.lower())
