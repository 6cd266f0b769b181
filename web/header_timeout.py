"""A time limit on reading a request, which uvicorn does not have: a client that opens
connections and sends its headers or its body a byte at a time (slowloris) would otherwise
hold them open for ever, and enough of them fill the server's connection limit. The limit
runs from the connection's start, and from the first byte of each later request on it, to
the end of that request's body (the app takes only small forms)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from web.config import header_timeout_of

# For uvicorn's ``http`` setting: a name, so that every worker process imports the class.
PROTOCOL = "web.header_timeout:HeaderTimeoutProtocol"


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol (httptools) that closes a connection whose request (headers
    and body) is not complete within ``OSINT_ARCHIVE_WEB_HEADER_TIMEOUT_SECONDS`` (10)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout_of(os.environ)
        self._header_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
