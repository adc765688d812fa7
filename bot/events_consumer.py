"""`python -m bot consume-events`: the communications record fed from RabbitMQ (scaled-out setup).

With EVENT_BROKER_URL set, every Rasa server publishes its (redacted) tracker events to RabbitMQ through
Rasa's own Pika event broker; this one consumer writes them to the ledger's communications table in
the order they arrive, acknowledging each message only once it is written, so a crash loses nothing
(an unacknowledged message is delivered again). Without EVENT_BROKER_URL, `LedgerEventBroker` inside
each Rasa server does the same job (bot/records.py).
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Optional
from urllib.parse import parse_qs, unquote, urlsplit

from bot.records import ConversationRecorder

logger = logging.getLogger(__name__)

EVENTS_QUEUE = "rasa_events"  # what Rasa's Pika broker declares and binds (bot/up.py)
EXCHANGE = "rasa-exchange"


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


async def consume(url: str, recorder: ConversationRecorder, stop: Optional[asyncio.Event] = None) -> None:
    import aio_pika

    queue_name, exchange_name = queue_and_exchange(url)
    connection = await aio_pika.connect_robust(url.split("?", 1)[0])
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=50)
        exchange = await channel.declare_exchange(exchange_name, type=aio_pika.ExchangeType.FANOUT)
        queue = await channel.declare_queue(queue_name, durable=True)
        await queue.bind(exchange, "")
        async with queue.iterator() as messages:
            logger.info("recording conversations from RabbitMQ queue %s", queue_name)
            async for message in messages:
                await _record(recorder, message)
                if stop is not None and stop.is_set():
                    break


async def _record(recorder: ConversationRecorder, message) -> None:
    try:
        event = json.loads(message.body)
    except ValueError:
        logger.error("dropped a message that is not JSON from the events queue")
        await message.reject()
        return
    try:
        [written] = await asyncio.to_thread(recorder.record, [event])
    except Exception:
        logger.exception("could not read an event of %s; it stays queued", event.get("sender_id"))
        written = False
    if not written:
        await message.nack(requeue=True)
        await asyncio.sleep(1)
        return
    await message.ack()
