"""Compare channels_redis's core and pub/sub layers for opsmessaging's fan-out pattern.

One sender does ``group_send`` of N wire-sized events to a group that R receiving channels
joined; each receiver counts what arrives. Prints sends/s and deliveries lost per layer.
Run: ``python bench/channel_layers.py [redis://127.0.0.1:6379/13] [N] [R]``.
"""

from __future__ import annotations

import asyncio
import sys
import time

from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer

EVENT = {
    "type": "opsmessaging.message",
    "message": {"payload": {"x": "y" * 250}, "sequence": 0},
}


async def run(layer: object, count: int, receivers: int) -> tuple[float, int]:
    group = f"bench.{time.monotonic_ns()}"
    channels = [await layer.new_channel() for _ in range(receivers)]  # type: ignore[attr-defined]
    for channel in channels:
        await layer.group_add(group, channel)  # type: ignore[attr-defined]
    received = [0] * receivers

    async def receive(index: int, channel: str) -> None:
        while True:
            await layer.receive(channel)  # type: ignore[attr-defined]
            received[index] += 1

    tasks = [asyncio.create_task(receive(i, c)) for i, c in enumerate(channels)]
    await asyncio.sleep(0.2)
    started = time.perf_counter()
    for sequence in range(count):
        await layer.group_send(group, {**EVENT, "sequence": sequence})  # type: ignore[attr-defined]
    rate = count / (time.perf_counter() - started)
    await asyncio.sleep(2)  # let the receivers drain
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await layer.flush()  # type: ignore[attr-defined]
    return rate, count * receivers - sum(received)


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else "redis://127.0.0.1:6379/13"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    receivers = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    for name, layer in (
        ("core (RedisChannelLayer)", RedisChannelLayer(hosts=[url])),
        ("pub/sub (RedisPubSubChannelLayer)", RedisPubSubChannelLayer(hosts=[url])),
    ):
        rate, lost = asyncio.run(run(layer, count, receivers))
        print(
            f"{name:36} {rate:8.0f} group_send/s  lost {lost} of {count * receivers} deliveries"
        )


if __name__ == "__main__":
    main()
