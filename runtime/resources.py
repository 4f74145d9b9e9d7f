"""The per-process resources a task needs, built lazily once per worker process (a leaf: it imports
no task, no app).

One Redis client, one ``Limiter``, one ``Database`` (engine), one ``requests.Session`` and client per
provider. ``reset()`` runs after the prefork pool forks (``worker_process_init``) so a child never
shares its parent's sockets.
"""

from __future__ import annotations

import threading
from functools import cached_property

import redis
import requests
from requests.adapters import HTTPAdapter

import ratelimits
from dispatch import Backlog
from providers import CLIENTS, ProviderConfig
from runtime.settings import Settings, load
from storage import Database
from storage.usage import GrantJournal

# HTTP connections kept per provider session: a worker process makes one call at a time.
_POOL_CONNECTIONS = 4


class Resources:
    """Everything a task body looks up, built on first use from the settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._clients: dict[str, object] = {}
        self._pools: dict[str, ratelimits.Pool] = {}

    @cached_property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.settings.redis_url, socket_timeout=5.0, socket_connect_timeout=5.0)

    @cached_property
    def limiter(self) -> ratelimits.Limiter:
        """The quota engine, journaling its grants in the database: Redis losing its data cannot make it
        grant a day's quota twice (``ratelimits.restore``)."""
        return ratelimits.Limiter(
            self.redis, guard=self.settings.quota_guard_seconds, journal=GrantJournal(self.db)
        )

    @cached_property
    def backlog(self) -> Backlog:
        return Backlog(self.redis)

    @cached_property
    def db(self) -> Database:
        return Database(self.settings.database_url)

    def policy(self, provider: str) -> ratelimits.Policy:
        return _policy(self.settings.providers[provider].quota)

    def pool(self, name: str) -> ratelimits.Pool:
        """The concurrency pool ``name`` (a lease per holder in Redis), built once per process."""
        if name not in self._pools:
            self._pools[name] = ratelimits.Pool(
                self.redis,
                name,
                size=self.settings.pools[name],
                lease_seconds=self.settings.pool_lease_seconds,
            )
        return self._pools[name]

    def client(self, provider: str):
        """The provider's client (``providers.CLIENTS``), with its own HTTP session without retries."""
        if provider not in self._clients:
            p = self.settings.providers[provider]
            session = requests.Session()
            adapter = HTTPAdapter(
                max_retries=0, pool_connections=_POOL_CONNECTIONS, pool_maxsize=_POOL_CONNECTIONS
            )
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._clients[provider] = CLIENTS[provider](
                ProviderConfig.from_settings(p),
                session,
                self.limiter,
                self.policy(provider),
                max_wait=self.settings.quota_max_wait_seconds,
            )
        return self._clients[provider]

    def close(self) -> None:
        for client in self._clients.values():
            client.session.close()
        self._clients.clear()
        if "db" in self.__dict__:
            self.db.dispose(close=False)
        if "redis" in self.__dict__:
            self.redis.close()


_POLICIES: dict[str, ratelimits.Policy] = {}


def _policy(text: str) -> ratelimits.Policy:
    if text not in _POLICIES:
        _POLICIES[text] = ratelimits.parse_policy(text)
    return _POLICIES[text]


_lock = threading.Lock()
_current: Resources | None = None


def current() -> Resources:
    """This process's resources, built from ``runtime.settings.load()`` (the process's one settings
    object) on first use."""
    global _current
    if _current is None:
        with _lock:
            if _current is None:
                _current = Resources(load())
    return _current


def install(ctx: Resources) -> None:
    """Use ``ctx`` as this process's context (tests and tools that run task code in-process)."""
    global _current
    with _lock:
        _current = ctx


def reset() -> None:
    """Forget the process's resources (after a fork: the child builds its own)."""
    global _current
    with _lock:
        if _current is not None:
            _current.close()
        _current = None
