"""How long the collector waits for a client, and how many connections a worker keeps open.

The defaults are `ivote collector serve`'s (collector.cli) and the spec's ("Collector API");
collector.transport enforces them. A module of its own, light to import, so that the CLI can
show the defaults without loading uvicorn.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout_s: float = 10.0  # from a request's first byte to the end of its headers
    body_timeout_s: float = 30.0  # from the end of the headers to the end of the body
    idle_timeout_s: float = 15.0  # a connection with no request: fresh, or after a response
    # Per worker process. An open connection costs a file descriptor and a few kilobytes, so
    # thousands are cheap, and leave room for a peak of voters on slow mobile networks.
    max_connections: int = 4096
    # A request line and headers: a voter app sends a few hundred bytes. (httptools itself
    # takes any amount.)
    max_header_bytes: int = 16_384

    def __post_init__(self) -> None:
        for name in ("header_timeout_s", "body_timeout_s", "idle_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)}")
        if self.max_header_bytes < 1024:
            raise ValueError(f"max_header_bytes must be at least 1024, not {self.max_header_bytes}")
        if self.max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, not {self.max_connections}")
