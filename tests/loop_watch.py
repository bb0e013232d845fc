"""Watching an event loop while something awaits: did the loop go on, or was it blocked?"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

TICK_SECONDS = 0.01


@dataclass
class LoopWatch:
    """What a ticker on the loop saw during the watched block."""

    ticks: int = 0
    seconds: float = 0.0

    @property
    def kept_running(self) -> bool:
        """True when the loop ticked at least half as often as it would have if idle
        (a blocking call of the whole window leaves it near zero)."""
        return self.ticks >= 0.5 * self.seconds / TICK_SECONDS


@asynccontextmanager
async def watching_the_loop() -> AsyncIterator[LoopWatch]:
    """Counts ticks of a task sleeping `TICK_SECONDS` at a time while the block runs."""
    watch = LoopWatch()

    async def tick() -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            watch.ticks += 1

    ticker = asyncio.create_task(tick())
    started = time.monotonic()
    try:
        yield watch
    finally:
        watch.seconds = time.monotonic() - started
        ticker.cancel()
