"""The aiohttp application: the four providers under their prefixes and the control plane, on one port."""

from __future__ import annotations

import importlib

from aiohttp import web

from sandbox import control
from sandbox.gateway import Gateway
from sandbox.state import Config, Sandbox

PROVIDER_MODULES = ("sandbox.finnhub", "sandbox.polygon", "sandbox.alphavantage", "sandbox.yahoo")


def base_urls(root: str) -> dict[str, str]:
    """The base URL each client is configured with, for a sandbox at ``root`` (``http://host:port``)."""
    root = root.rstrip("/")
    return {
        "finnhub": f"{root}/finnhub/api/v1",
        "polygon": f"{root}/polygon",
        "alphavantage": f"{root}/alphavantage",
        "yahoo": f"{root}/yahoo",
    }


def make_app(config: Config) -> web.Application:
    """Build the sandbox (universe and market included: a few seconds for 6,500 symbols) and its app."""
    sandbox = Sandbox(config)
    app = web.Application()
    app["sandbox"] = sandbox
    gateway = Gateway(sandbox)
    control.add_routes(app, sandbox)
    for name in PROVIDER_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a provider still being written
            if exc.name != name:
                raise
            continue
        module.add_routes(app, gateway)
    return app
