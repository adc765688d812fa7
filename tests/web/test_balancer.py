"""The local load balancer in front of several Rasa servers (bot/web/balancer.py)."""
from __future__ import annotations

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
