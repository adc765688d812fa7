"""`python -m bot consume-events` against a real RabbitMQ: the record complete, in order, nothing lost.

Each test publishes to an exchange and queue of its own, as Rasa's Pika broker does, then runs the
consumer until the record holds what it should; the queue is deleted afterwards.
"""
from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from bot.events_consumer import consume
from bot.records import ConversationRecorder
from tests.scaleout.conftest import RABBITMQ_URL, require

pytestmark = pytest.mark.scaleout
CONVERSATIONS = 12
TURNS = 3


def conversation(sender: str) -> list:
    """A conversation's events as Rasa publishes them: each turn a message in, an action, a reply, a listen."""
    events = [{"event": "session_started"}]
    for turn in range(TURNS):
        events += [{"event": "user", "text": f"question {turn}", "input_channel": "rest"},
                   {"event": "action", "name": "action_balance"},
                   {"event": "bot", "text": f"answer {turn}"},
                   {"event": "action", "name": "action_listen"}]
    return [{"sender_id": sender, "timestamp": 1_795_000_000.0 + i, **event} for i, event in enumerate(events)]


def senders() -> list:
    return [f"+1415555{n:04d}" for n in range(CONVERSATIONS)]


def expected_bodies() -> list:
    return [body for turn in range(TURNS) for body in (f"question {turn}", f"answer {turn}")]


class Queue:
    """An exchange and a queue of the test's own on the shared RabbitMQ."""

    def __init__(self) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.name, self.exchange_name = f"events_{suffix}", f"exchange_{suffix}"
        self.url = f"{RABBITMQ_URL}?queue={self.name}&exchange={self.exchange_name}"

    async def __aenter__(self) -> "Queue":
        import aio_pika

        self.connection = await aio_pika.connect(RABBITMQ_URL)
        self.channel = await self.connection.channel()
        self.exchange = await self.channel.declare_exchange(self.exchange_name, type=aio_pika.ExchangeType.FANOUT)
        self.queue = await self.channel.declare_queue(self.name, durable=True)
        await self.queue.bind(self.exchange, "")
        return self

    async def publish(self, body: bytes) -> None:
        import aio_pika

        await self.exchange.publish(aio_pika.Message(body), routing_key="")

    async def waiting(self) -> int:
        """Messages still in the queue once the consumer has stopped (what it took but never acknowledged included)."""
        declared = await self.channel.declare_queue(self.name, durable=True, passive=True)
        return declared.declaration_result.message_count

    async def __aexit__(self, *_) -> None:
        await self.queue.delete(if_unused=False, if_empty=False)
        await self.exchange.delete()
        await self.connection.close()


async def consume_until(queue: Queue, ledger, done, seconds: float = 30) -> None:
    """Start a consumer, as `python -m bot consume-events` does, run it until `done()` holds (or fail
    after `seconds`), then stop it. What it took but had not acknowledged goes back to the queue.
    """
    consumer = asyncio.create_task(consume(queue.url, ConversationRecorder(ledger)))
    try:
        for _ in range(int(seconds / 0.05)):
            await asyncio.sleep(0.05)
            assert not consumer.done(), consumer.exception()
            if done():
                await asyncio.sleep(0.3)  # the acknowledgements follow the writes: let them go out
                return
        pytest.fail(f"the record was not complete within {seconds:.0f} s: "
                    f"{ {sender: bodies(ledger, sender) for sender in senders()} }")
    finally:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)


def bodies(ledger, sender: str) -> list:
    return [record["body"] for record in ledger.communications(sender)]


async def test_every_conversation_is_recorded_in_order_in_few_transactions_and_the_queue_is_left_empty(
        ledger, monkeypatch):
    require("rabbitmq")
    transactions = []
    log_communications = ledger.log_communications

    def counted(communications):
        if communications:
            transactions.append(len(communications))
        log_communications(communications)

    monkeypatch.setattr(ledger, "log_communications", counted)
    async with Queue() as queue:
        for sender in senders():
            for event in conversation(sender):
                await queue.publish(json.dumps(event).encode())
        messages = CONVERSATIONS * TURNS * 2
        await consume_until(queue, ledger, lambda: sum(transactions) >= messages)
        assert await queue.waiting() == 0
    assert {sender: bodies(ledger, sender) for sender in senders()} == \
        {sender: expected_bodies() for sender in senders()}
    # Every event already delivered goes in one transaction, not one transaction each.
    assert len(transactions) < messages / 4, transactions


async def test_a_message_that_is_not_json_is_dropped_and_the_rest_recorded(ledger, caplog):
    require("rabbitmq")
    sender = senders()[0]
    async with Queue() as queue:
        await queue.publish(b"not json {")
        for event in conversation(sender):
            await queue.publish(json.dumps(event).encode())
        await consume_until(queue, ledger, lambda: len(bodies(ledger, sender)) == TURNS * 2)
        assert await queue.waiting() == 0
    assert bodies(ledger, sender) == expected_bodies()
    assert "dropped a message that is not JSON" in caplog.text


async def test_a_message_the_database_refuses_stays_queued_and_is_recorded_once_it_accepts(ledger, monkeypatch):
    require("rabbitmq")
    refused, refusing = [], True
    log_communications = ledger.log_communications

    def refuses_answer_1(communications):
        if refusing and any(c.body == "answer 1" and c.conversation_id == first for c in communications):
            refused.append(len(communications))
            raise RuntimeError("the database refused it")
        log_communications(communications)

    first, second = senders()[:2]
    monkeypatch.setattr(ledger, "log_communications", refuses_answer_1)
    async with Queue() as queue:
        for event in conversation(first) + conversation(second):
            await queue.publish(json.dumps(event).encode())
        # The second conversation, and the first but for its refused answer, are written meanwhile.
        await consume_until(queue, ledger, lambda: len(bodies(ledger, second)) == TURNS * 2
                            and len(bodies(ledger, first)) == TURNS * 2 - 1)
        assert refused and "answer 1" not in bodies(ledger, first)
        # Once the database accepts it, a consumer started afresh finds the refused answer still queued.
        refusing = False
        await consume_until(queue, ledger, lambda: len(bodies(ledger, first)) == TURNS * 2)
        assert await queue.waiting() == 0
    # The refused answer came back after the others: the record orders a conversation by when each was said.
    assert bodies(ledger, first) == expected_bodies()
    assert bodies(ledger, second) == expected_bodies()
