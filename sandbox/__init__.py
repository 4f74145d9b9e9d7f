"""The offline provider sandbox: an HTTP double of Finnhub, Polygon/Massive, Alpha Vantage and Yahoo.

Run it with ``python -m sandbox --port N --profile free|demo|unlimited``; drive it from tests with
``sandbox.testing.SandboxProcess``. It shares no code with ``providers/`` (only the exchange calendar):
see docs/sandbox.md.
"""
