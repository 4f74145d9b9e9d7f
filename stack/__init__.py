"""Running tickerbeat's services as plain local processes: the embedded Redis, the demo and ``make run``."""
