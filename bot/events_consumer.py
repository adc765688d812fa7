"""`python -m bot consume-events`: the communications record fed from RabbitMQ (scaled-out setup).

With EVENT_BROKER_URL set, every Rasa server publishes its (redacted) tracker events to RabbitMQ through
Rasa's own Pika event broker; this one consumer writes them to the ledger's communications table in
the order they arrive, acknowledging each message only once it is written, so a crash loses nothing
(an unacknowledged message is delivered again). Without EVENT_BROKER_URL, `LedgerEventBroker` inside
each Rasa server does the same job (bot/records.py).

The events that arrive together are written in one transaction: one transaction per event held the
consumer to about 1,100 events a second on PostgreSQL here, in batches it writes about 2,200.
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, List
from urllib.parse import parse_qs, unquote, urlsplit

from bot.records import ConversationRecorder

logger = logging.getLogger(__name__)

EVENTS_QUEUE = "rasa_events"  # what Rasa's Pika broker declares and binds (bot/up.py)
EXCHANGE = "rasa-exchange"
BATCH_EVENTS = 200  # events unacknowledged at once, and so the most written in one transaction
GATHER_SECONDS = 0.01  # how long a batch waits for more events after its first: a record is not a reply


def queue_and_exchange(url: str) -> tuple:
    """`?queue=...&exchange=...` on EVENT_BROKER_URL name them (tests keep theirs apart); else Rasa's defaults."""
    query = parse_qs(urlsplit(url).query)
    return query.get("queue", [EVENTS_QUEUE])[0], query.get("exchange", [EXCHANGE])[0]


def pika_broker_settings(url: str) -> dict:
    """endpoints.yml `event_broker` for Rasa's Pika broker, from amqp://user:password@host:port/vhost."""
    parts = urlsplit(url)
    queue, exchange = queue_and_exchange(url)
    return {"type": "pika", "url": parts.hostname or "127.0.0.1", "port": parts.port or 5672,
            "username": unquote(parts.username or "guest"), "password": unquote(parts.password or "guest"),
            "queues": [queue], "exchange_name": exchange, "raise_on_failure": False}


async def consume(url: str, recorder: ConversationRecorder) -> None:
    import aio_pika

    queue_name, exchange_name = queue_and_exchange(url)
    connection = await aio_pika.connect_robust(url.split("?", 1)[0])
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=BATCH_EVENTS)
        exchange = await channel.declare_exchange(exchange_name, type=aio_pika.ExchangeType.FANOUT)
        queue = await channel.declare_queue(queue_name, durable=True)
        await queue.bind(exchange, "")
        delivered: "asyncio.Queue[Any]" = asyncio.Queue()
        await queue.consume(delivered.put)
        logger.info("recording conversations from RabbitMQ queue %s", queue_name)
        while True:
            await _record(recorder, await _next_batch(delivered))


async def _next_batch(delivered: "asyncio.Queue[Any]") -> List[Any]:
    """The next message, and every other one RabbitMQ delivers within GATHER_SECONDS of it (at most the prefetch)."""
    messages = [await delivered.get()]
    await asyncio.sleep(GATHER_SECONDS)
    while not delivered.empty():
        messages.append(delivered.get_nowait())
    return messages


async def _record(recorder: ConversationRecorder, messages: List[Any]) -> None:
    """Write the messages' events in one transaction; acknowledge each written, requeue the others."""
    readable = []
    for message in messages:
        try:
            readable.append((message, json.loads(message.body)))
        except ValueError:
            logger.error("dropped a message that is not JSON from the events queue")
            await message.reject()
    try:
        written = await asyncio.to_thread(recorder.record, [event for _, event in readable])
    except Exception:
        logger.exception("could not read %d events for the record; they stay queued", len(readable))
        written = [False] * len(readable)
    for (message, _), in_record in zip(readable, written):
        await (message.ack() if in_record else message.nack(requeue=True))
    if not all(written):
        await asyncio.sleep(1)  # the database is failing: give it a moment before the events come back
