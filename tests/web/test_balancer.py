"""The local load balancer in front of several Rasa servers (bot/web/balancer.py)."""
from __future__ import annotations

import asyncio
import itertools
import os

from aiohttp import ClientSession, web

from bot.web.balancer import create_app


# Ports of this checkout (E2E_PORT_BASE + 40..49), so checkouts side by side do not collide.
_PORTS = itertools.cycle(range(int(os.environ.get("E2E_PORT_BASE", "15000")) + 40,
                               int(os.environ.get("E2E_PORT_BASE", "15000")) + 50))


def free_port() -> int:
    return next(_PORTS)


async def serve(app: web.Application, port: int) -> web.AppRunner:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


def upstream(name: str) -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"server": name, "path": request.path_qs, "body": await request.text(),
                                  "token": request.headers.get("Authorization")}, status=201)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


async def test_requests_alternate_between_servers_and_skip_one_that_is_down():
    ports = [free_port() for _ in range(3)]  # the third server is never started
    runners = [await serve(upstream("one"), ports[0]), await serve(upstream("two"), ports[1])]
    balancer_port = free_port()
    runners.append(await serve(create_app([f"http://127.0.0.1:{p}" for p in ports]), balancer_port))
    try:
        async with ClientSession() as client:
            seen = []
            for n in range(6):
                async with client.post(f"http://127.0.0.1:{balancer_port}/webhooks/rest/webhook?x={n}",
                                       data="hi", headers={"Authorization": "Bearer t"}) as reply:
                    body = await reply.json()
                    assert reply.status == 201  # the upstream's status, body and headers come back
                    assert (body["path"], body["body"], body["token"]) == (f"/webhooks/rest/webhook?x={n}", "hi",
                                                                          "Bearer t")
                    seen.append(body["server"])
        assert seen.count("one") >= 2 and seen.count("two") >= 2
    finally:
        for runner in runners:
            await runner.cleanup()


async def test_no_server_up_is_a_503():
    balancer_port = free_port()
    runner = await serve(create_app([f"http://127.0.0.1:{free_port()}"]), balancer_port)
    try:
        async with ClientSession() as client:
            async with client.get(f"http://127.0.0.1:{balancer_port}/") as reply:
                assert reply.status == 503
    finally:
        await runner.cleanup()


async def test_a_server_that_goes_away_mid_request_gets_the_caller_a_502_saying_so():
    async def killed_mid_turn(reader, writer) -> None:
        await reader.read(100)  # took the request, then the process died: no answer
        writer.transport.abort()

    dying_port, balancer_port = free_port(), free_port()
    dying = await asyncio.start_server(killed_mid_turn, "127.0.0.1", dying_port)
    runner = await serve(create_app([f"http://127.0.0.1:{dying_port}"]), balancer_port)
    try:
        async with ClientSession() as client:
            async with client.post(f"http://127.0.0.1:{balancer_port}/webhooks/rest/webhook", data="hi") as reply:
                assert reply.status == 502
                assert "send it again" in (await reply.json())["error"]
    finally:
        await runner.cleanup()
        dying.close()


async def test_a_websocket_goes_to_a_live_server_with_the_pages_origin():
    async def socket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            await ws.send_str(f"{message.data} from origin {request.headers.get('Origin')}")
        return ws

    app = web.Application()
    app.router.add_get("/socket.io/", socket)
    live_port, dead_port, balancer_port = free_port(), free_port(), free_port()
    runners = [await serve(app, live_port),
               await serve(create_app([f"http://127.0.0.1:{dead_port}", f"http://127.0.0.1:{live_port}"] * 2),
                           balancer_port)]
    try:
        async with ClientSession() as client:
            async with client.ws_connect(f"ws://127.0.0.1:{balancer_port}/socket.io/",
                                         headers={"Origin": "http://localhost:8000"}) as ws:
                await ws.send_str("hello")
                assert await ws.receive_str() == "hello from origin http://localhost:8000"
    finally:
        for runner in runners:
            await runner.cleanup()
