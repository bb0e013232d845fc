"""The load generator: K concurrent simulated customers, in a process of its own.

    python -m bench.loadgen --target gateway --url http://127.0.0.1:8080 \
        --scenarios plan.jsonl --concurrency 20 --warmup 5 --duration 30 --out result.json

`--target gateway` speaks the gateway's HTTP API (`POST /api/v1/messages`, a shop-signed
customer token); `--target rasa` speaks Rasa's REST webhook with the metadata the gateway
would send. Each customer runs conversations from the plan one after another with no
think time (a closed loop: throughput is what the system sustains at K customers). Turns
that start during the warm-up are not counted; no turn starts after the measured window.
A turn counts as answered on HTTP 200 with a reply (or, for the gateway, a place in the
queue); anything else is an error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import jwt

from bench.scenarios import Conversation, load


@dataclass
class Stats:
    """What the customers measured."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)
    queued_turns: int = 0

    def error(self, what: str) -> None:
        """Counts an error, keeping a few examples."""
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(what[:300])


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (`share` in 0..1) of `values`, in the same unit."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


class Target:
    """How one turn is sent and judged."""

    def __init__(self, kind: str, url: str, token_secret: str | None) -> None:
        self.kind = kind
        self.url = url.rstrip("/")
        self.secret = token_secret
        self.tokens: dict[str, str] = {}

    def _token(self, customer_id: str) -> str | None:
        if not self.secret:
            return None
        if customer_id not in self.tokens:
            claims = {"sub": customer_id, "exp": int(time.time()) + 6 * 3600}
            self.tokens[customer_id] = jwt.encode(claims, self.secret, "HS256")
        return self.tokens[customer_id]

    def request(
        self, sender: str, number: int, chat: Conversation, text: str
    ) -> tuple[str, dict[str, Any]]:
        """URL and JSON body of one customer message."""
        if self.kind == "gateway":
            body: dict[str, Any] = {
                "channel": "web",
                "sender": sender,
                "text": text,
                "client_message_id": f"{sender}-{number}",
                "language": chat.language,
            }
            token = self._token(chat.customer_id)
            if token:
                body["customer_token"] = token
            return f"{self.url}/api/v1/messages", body
        metadata = {"customer_id": chat.customer_id, "channel": "web", "language": chat.language}
        body = {"sender": sender, "message": text, "metadata": metadata}
        return f"{self.url}/webhooks/rest/webhook", body

    def judge(self, status: int, data: Any) -> tuple[bool, bool]:
        """(answered, queued) for a response."""
        if status != 200:
            return False, False
        if self.kind == "gateway":
            if not isinstance(data, dict):
                return False, False
            queued = data.get("state") == "queued"
            return bool(data.get("replies")) or queued, queued
        return isinstance(data, list) and len(data) > 0, False


async def customer(
    index: int,
    concurrency: int,
    plan: list[Conversation],
    target: Target,
    session: aiohttp.ClientSession,
    window: tuple[float, float],
    stats: Stats,
    run_id: str,
) -> None:
    """One simulated customer: conversations `index`, `index + K`, ... until the end."""
    start, end = window
    position, opened = index, 0
    while time.monotonic() < end:
        chat = plan[position % len(plan)]
        position += concurrency
        opened += 1
        sender = f"bench-{run_id}-{index}-{opened}"
        for number, text in enumerate(chat.turns, 1):
            began = time.monotonic()
            if began >= end:
                return
            url, body = target.request(sender, number, chat, text)
            try:
                async with session.post(url, json=body) as response:
                    status = response.status
                    data = await response.json(content_type=None)
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
                status, data = 0, repr(exc)
            took = time.monotonic() - began
            if began < start:
                continue
            answered, queued = target.judge(status, data)
            if answered:
                stats.latencies.append(took)
                stats.kinds[chat.kind] = stats.kinds.get(chat.kind, 0) + 1
                stats.queued_turns += int(queued)
            else:
                stats.error(f"{status} {chat.kind} {str(data)[:200]}")


def peak_rss_kb() -> int:
    """This process's peak resident set size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Runs the load and returns the summary."""
    plan = load(Path(args.scenarios).read_text(encoding="utf-8"))
    target = Target(args.target, args.url, args.token_secret)
    stats = Stats()
    now = time.monotonic()
    window = (now + args.warmup, now + args.warmup + args.duration)
    run_id = uuid.uuid4().hex[:8]
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    connector = aiohttp.TCPConnector(limit=args.concurrency + 10)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        await asyncio.gather(
            *(
                customer(i, args.concurrency, plan, target, session, window, stats, run_id)
                for i in range(args.concurrency)
            )
        )
    ms = [value * 1000 for value in stats.latencies]
    return {
        "target": args.target,
        "concurrency": args.concurrency,
        "duration_s": args.duration,
        "turns": len(ms),
        "errors": stats.errors,
        "error_samples": stats.error_samples,
        "queued_turns": stats.queued_turns,
        "turns_by_kind": stats.kinds,
        "p50_ms": percentile(ms, 0.50),
        "p95_ms": percentile(ms, 0.95),
        "p99_ms": percentile(ms, 0.99),
        "mean_ms": sum(ms) / len(ms) if ms else float("nan"),
        "throughput_tps": len(ms) / args.duration,
        "loadgen_peak_rss_kb": peak_rss_kb(),
    }


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", choices=("gateway", "rasa"), required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--scenarios", required=True, help="JSON lines from bench.scenarios")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--token-secret", default=None, help="CUSTOMER_TOKEN_SECRET (gateway)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
