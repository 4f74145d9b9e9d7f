"""The metrics endpoint: one registry holding the tickerbeat collector, served over HTTP at ``/metrics``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, start_http_server

DEFAULT_PORT = 9102


def registry_for(collector) -> CollectorRegistry:
    """A registry with only ``collector`` (no process/platform collectors: the exporter is one process
    among many and its own memory is not what anyone watches)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def serve(collector, port: int = DEFAULT_PORT, addr: str = "0.0.0.0"):
    """Serve ``collector`` on ``addr:port`` from a daemon thread; returns ``(server, thread)``.
    Port 0 picks a free port (``server.server_port``). Raises ``OSError`` when the port is taken."""
    return start_http_server(port, addr=addr, registry=registry_for(collector))
