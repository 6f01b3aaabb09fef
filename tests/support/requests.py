"""A python-telegram-bot request seam for unit tests: no connection to open or close; the
subclass answers each call in `reply`."""

from __future__ import annotations

from typing import Any

from telegram.request import BaseRequest, RequestData


class FakeRequest(BaseRequest):
    """Telegram at the request seam, answered by `reply` (endpoint name and parameters)."""

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(  # noqa: PLR0917 - python-telegram-bot's signature
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        params = dict(request_data.parameters) if request_data else {}
        return await self.reply(url.rsplit("/", 1)[-1], params)

    async def reply(self, endpoint: str, params: dict[str, Any]) -> tuple[int, bytes]:
        raise NotImplementedError
