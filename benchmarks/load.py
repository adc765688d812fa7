"""The load generator: simulated consumers driving whole journeys over Rasa's REST channel.

A journey is a list of steps, each a message and a check on the bot's replies; a journey is complete
when every step got the reply it expects. Latency is measured per message (one REST round trip).
"""
from __future__ import annotations

import asyncio
import csv
import statistics
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence

import aiohttp

Check = Callable[[List[str]], bool]
PLACEMENT_FIELDS = ("creditor_id,account_ref,first_name,last_name,date_of_birth,postal_code,phone,email,language,"
                    "timezone,currency,item_date,item_reference,item_description,item_amount").split(",")


@dataclass(frozen=True)
class Consumer:
    """A generated person with one account: distinct phone, date of birth and ZIP."""
    phone: str
    account_ref: str
    date_of_birth: date
    postal_code: str
    item_reference: str
    amount: str

    def row(self) -> Dict[str, str]:
        return {"creditor_id": "brightwork", "account_ref": self.account_ref, "first_name": "Bench",
                "last_name": f"Consumer{self.account_ref[-5:]}", "date_of_birth": self.date_of_birth.isoformat(),
                "postal_code": self.postal_code, "phone": self.phone, "email": "", "language": "en",
                "timezone": "America/Los_Angeles", "currency": "USD", "item_date": "2026-03-01",
                "item_reference": self.item_reference, "item_description": "Benchmark invoice",
                "item_amount": self.amount}


def consumers(count: int, start: int = 0) -> List[Consumer]:
    return [Consumer(phone=f"+1415666{n:04d}", account_ref=f"BB-{70000 + n}",
                     date_of_birth=date(1945, 1, 1) + timedelta(days=97 * n % 21000), postal_code=f"{90000 + n:05d}",
                     item_reference=f"BB-INV-{70000 + n}", amount=f"{200 + n % 300}.{n % 100:02d}")
            for n in range(start, start + count)]


def write_placements(path: Path, people: Iterable[Consumer]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=PLACEMENT_FIELDS)
        writer.writeheader()
        writer.writerows(person.row() for person in people)
    return path


@dataclass(frozen=True)
class Step:
    name: str
    message: str
    check: Check


def says(*fragments: str) -> Check:
    """The replies contain any of the fragments (case-insensitive)."""
    return lambda replies: any(f.lower() in text.lower() for f in fragments for text in replies)


def assistant_journey(person: Consumer) -> List[Step]:
    """Verify, balance, line items, creditor, a payment link, a dispute: journeys 1-5 and disputes."""
    dob = person.date_of_birth
    return [
        Step("hello", "hi", says("date of birth", "STOP")),
        Step("ask balance", "how much do i owe", says("date of birth")),
        Step("date of birth", f"{dob.month}/{dob.day}/{dob.year}", says("zip")),
        Step("zip", person.postal_code, says("verified")),
        Step("balance", "whats my balance", says(person.amount.split(".")[0])),
        Step("line items", "what is this for", says(person.item_reference)),
        Step("creditor", "who is this from", says("Brightwork")),
        Step("pay", "i want to pay $20 now", says("$20")),
        Step("confirm", "yes", says("http")),
        Step("dispute", "i dont think i owe this, i want to dispute it", lambda replies: bool(replies)),
    ]


def floor_journey(_: Optional[Consumer] = None) -> List[Step]:
    """The `rasa init` assistant's own conversation, as long as ours."""
    return [
        Step("greet", "hello there", says("how are you")),
        Step("sad", "i am unhappy", says("did that help")),
        Step("deny", "no", says("bye")),
        Step("greet again", "hi", says("how are you")),
        Step("bot?", "are you a bot?", says("bot")),
        Step("great", "i am great", says("great")),
        Step("greet", "good morning", says("how are you")),
        Step("sad", "super sad", says("did that help")),
        Step("affirm", "yes", says("great")),
        Step("bye", "goodbye", says("bye")),
    ]


@dataclass
class Level:
    """One concurrency level: every message latency in seconds, journeys completed or failed."""
    concurrency: int
    latencies: List[float] = field(default_factory=list)
    completed: int = 0
    failed: List[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def messages_per_second(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        return percentile(self.latencies, p)

    def summary(self) -> dict:
        return {"concurrency": self.concurrency, "messages": len(self.latencies), "journeys": self.completed,
                "failed": len(self.failed), "seconds": round(self.seconds, 2),
                "messages_per_second": round(self.messages_per_second, 2),
                **{f"p{p}_ms": round(self.percentile(p) * 1000, 1) for p in (50, 95, 99)}}


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


class RestClient:
    def __init__(self, base_url: str, session: aiohttp.ClientSession):
        self.url = f"{base_url}/webhooks/rest/webhook"
        self.session = session

    async def send(self, sender: str, text: str) -> tuple[List[str], float]:
        """The bot's reply texts and the round trip in seconds."""
        started = time.perf_counter()
        async with self.session.post(self.url, json={"sender": sender, "message": text}) as response:
            response.raise_for_status()
            body = await response.json()
        return [m.get("text") or "" for m in body], time.perf_counter() - started


async def run_journey(client: RestClient, sender: str, steps: List[Step], level: Level) -> None:
    for step in steps:
        replies, seconds = await client.send(sender, step.message)
        level.latencies.append(seconds)
        if not step.check(replies):
            level.failed.append(f"{sender} at '{step.name}': {replies}")
            return
    level.completed += 1


async def run_level(base_url: str, journeys: List[tuple[str, List[Step]]], concurrency: int) -> Level:
    """Run the journeys with at most `concurrency` in flight, like that many consumers typing at once."""
    level = Level(concurrency)
    queue: asyncio.Queue = asyncio.Queue()
    for journey in journeys:
        queue.put_nowait(journey)

    async def worker(client: RestClient) -> None:
        while not queue.empty():
            sender, steps = queue.get_nowait()
            try:
                await run_journey(client, sender, steps, level)
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                level.failed.append(f"{sender}: {exc!r}")

    async with session(concurrency) as http:
        client = RestClient(base_url, http)
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        level.seconds = time.perf_counter() - started
    return level


def session(connections: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections),
                                 timeout=aiohttp.ClientTimeout(total=120))


async def conversation_growth(base_url: str, sender: str, opening: List[Step], message: str,
                              turns: int = 200) -> dict:
    """Latency of turn 10 against turn `turns` of one conversation (medians of 5 turns around each)."""
    async with session(1) as http:
        client = RestClient(base_url, http)
        for step in opening:
            await client.send(sender, step.message)
        latencies = []
        for _ in range(turns):
            latencies.append((await client.send(sender, message))[1])
    early = statistics.median(latencies[7:12])
    late = statistics.median(latencies[turns - 5:turns])
    return {"turns": turns, "turn_10_ms": round(early * 1000, 1), f"turn_{turns}_ms": round(late * 1000, 1),
            "growth": round(late / early, 2), "ms_per_earlier_turn": round((late - early) * 1000 / (turns - 10), 3)}


async def no_action_message(base_url: str, sender_prefix: str, message: str, count: int = 30) -> dict:
    """p50 of a message that the server answers without the action server: each the second of a new conversation.

    What a message costs the whole stack (REST channel, lock, tracker read and write, parse, predictions,
    response) when no custom action runs. Each is sent in a conversation of its own, after a greeting,
    so that plain Rasa's growth with a conversation's length (turn 200 / turn 10) does not add to it;
    the first 5 are not counted.
    """
    async with session(1) as http:
        client = RestClient(base_url, http)
        answers = []
        for n in range(count):
            await client.send(f"{sender_prefix}-{n}", "hi")
            answers.append(await client.send(f"{sender_prefix}-{n}", message))
    return {"message": message, "all_answered": all(replies for replies, _ in answers),
            "p50_ms": round(statistics.median(seconds for _, seconds in answers[5:]) * 1000, 1)}


async def burst(base_url: str, sender: str, opening: List[Step], message: str, size: int = 5) -> dict:
    """`size` messages sent at once by one consumer: Rasa handles one conversation's messages in turn."""
    async with session(size) as http:
        client = RestClient(base_url, http)
        for step in opening:
            await client.send(sender, step.message)
        started = time.perf_counter()
        answers = await asyncio.gather(*(client.send(sender, message) for _ in range(size)))
        seconds = time.perf_counter() - started
    return {"messages": size, "all_answered": all(replies for replies, _ in answers), "seconds": round(seconds, 3)}


async def first_reply(base_url: str, sender: str, message: str, timeout: float) -> float:
    """Seconds until the server first answers a message (cold start is measured from the command)."""
    deadline = time.monotonic() + timeout
    async with session(1) as http:
        client = RestClient(base_url, http)
        while time.monotonic() < deadline:
            try:
                replies, _ = await client.send(sender, message)
                if replies:
                    return time.monotonic()
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(f"no reply from {base_url} within {timeout:.0f}s")
