"""Cursor pages that iterate themselves: `for job in client.jobs.list(): ...` walks every page."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from typing import Any, Generic, TypeVar

ItemT = TypeVar("ItemT")


class SyncCursorPage(Generic[ItemT]):
    """One page (`data`, `next_cursor`); iterating it yields its items and then those of every later page."""

    def __init__(
        self, data: list[ItemT], next_cursor: str | None, fetch: Callable[[str], SyncCursorPage[ItemT]]
    ) -> None:
        self.data = data
        self.next_cursor = next_cursor
        self._fetch = fetch

    def has_next_page(self) -> bool:
        return self.next_cursor is not None

    def get_next_page(self) -> SyncCursorPage[ItemT]:
        if self.next_cursor is None:
            raise StopIteration("this is the last page")
        return self._fetch(self.next_cursor)

    def iter_pages(self) -> Iterator[SyncCursorPage[ItemT]]:
        page = self
        yield page
        while page.next_cursor is not None:
            page = page._fetch(page.next_cursor)
            yield page

    def __iter__(self) -> Iterator[ItemT]:
        for page in self.iter_pages():
            yield from page.data

    def __repr__(self) -> str:
        return f"SyncCursorPage(items={len(self.data)}, next_cursor={self.next_cursor!r})"


class AsyncCursorPage(Generic[ItemT]):
    def __init__(
        self, data: list[ItemT], next_cursor: str | None, fetch: Callable[[str], Awaitable[AsyncCursorPage[ItemT]]]
    ) -> None:
        self.data = data
        self.next_cursor = next_cursor
        self._fetch = fetch

    def has_next_page(self) -> bool:
        return self.next_cursor is not None

    async def get_next_page(self) -> AsyncCursorPage[ItemT]:
        if self.next_cursor is None:
            raise StopAsyncIteration("this is the last page")
        return await self._fetch(self.next_cursor)

    async def iter_pages(self) -> AsyncIterator[AsyncCursorPage[ItemT]]:
        page = self
        yield page
        while page.next_cursor is not None:
            page = await page._fetch(page.next_cursor)
            yield page

    async def __aiter__(self) -> AsyncIterator[ItemT]:
        async for page in self.iter_pages():
            for item in page.data:
                yield item


class AsyncPaginator(Generic[ItemT]):
    """What `AsyncJobs.list()` returns: `await` it for the first page, or `async for` over every item."""

    def __init__(self, first_page: Callable[[], Awaitable[AsyncCursorPage[ItemT]]]) -> None:
        self._first_page = first_page

    def __await__(self) -> Generator[Any, None, AsyncCursorPage[ItemT]]:
        return self._first_page().__await__()

    async def __aiter__(self) -> AsyncIterator[ItemT]:
        page = await self._first_page()
        async for item in page:
            yield item
