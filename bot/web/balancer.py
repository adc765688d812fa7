"""A small HTTP and WebSocket load balancer in front of several Rasa servers (`python -m bot up --instances N`).

Requests go round-robin, so one consumer's messages land on different servers (the lock store keeps
them in order). Socket.io is the exception: its handshake and polling belong to the server that made
the session, so `/socket.io/` requests stick to a server chosen by the client's address. An upstream
that refuses connections is skipped; one that goes away while handling a request (killed) gets
the caller a 502 saying so, not a retry elsewhere, which could handle the message twice. In production a real load balancer does this (docs/scaling.md).
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import zlib
from typing import List, Sequence

from aiohttp import ClientSession, ClientTimeout, WSMsgType, client_exceptions, web

logger = logging.getLogger(__name__)

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "host", "content-length"}
STICKY_PREFIX = "/socket.io"
STOPPED_MID_REQUEST = ("the Rasa server handling this request stopped before it answered; the message may not have "
                       "been handled: send it again")


class Balancer:
    def __init__(self, upstreams: Sequence[str]) -> None:
        self.upstreams: List[str] = [u.rstrip("/") for u in upstreams]
        self._next = itertools.cycle(range(len(self.upstreams)))
        self._session: ClientSession | None = None

    def order(self, request: web.Request) -> List[str]:
        """Upstreams to try, first choice first."""
        if request.path.startswith(STICKY_PREFIX):
            first = zlib.crc32((request.remote or "").encode()) % len(self.upstreams)
        else:
            first = next(self._next)
        return self.upstreams[first:] + self.upstreams[:first]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request)
        body = await request.read()
        headers = forwarded_headers(request)
        for upstream in self.order(request):
            try:
                async with self._session.request(request.method, upstream + request.rel_url.path_qs,
                                                 headers=headers, data=body, allow_redirects=False) as reply:
                    content = await reply.read()
                    out = {k: v for k, v in reply.headers.items() if k.lower() not in HOP_BY_HOP}
                    return web.Response(status=reply.status, body=content, headers=out)
            except client_exceptions.ClientConnectorError:
                logger.warning("upstream %s refused a connection; trying the next", upstream)
            except client_exceptions.ClientError as error:  # it took the request and went away (killed)
                logger.error("upstream %s stopped while handling %s %s: %r", upstream, request.method,
                             request.path, error)
                return web.json_response({"error": STOPPED_MID_REQUEST}, status=502)
        return web.json_response({"error": "no Rasa server is reachable"}, status=503)

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        headers = {k: v for k, v in forwarded_headers(request).items() if not k.lower().startswith("sec-websocket")}
        for upstream in self.order(request):
            try:
                up = await self._session.ws_connect(upstream.replace("http", "ws", 1) + request.rel_url.path_qs,
                                                    headers=headers)
            except client_exceptions.ClientConnectorError:
                logger.warning("upstream %s refused a WebSocket; trying the next", upstream)
                continue
            downstream = web.WebSocketResponse()
            await downstream.prepare(request)
            try:
                await asyncio.gather(pump(downstream, up), pump(up, downstream), return_exceptions=True)
            finally:
                await up.close()
            return downstream
        return web.json_response({"error": "no Rasa server is reachable"}, status=503)

    async def start(self, app: web.Application) -> None:
        self._session = ClientSession(timeout=ClientTimeout(total=120), auto_decompress=False)

    async def stop(self, app: web.Application) -> None:
        await self._session.close()


def forwarded_headers(request: web.Request) -> dict:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    headers["X-Forwarded-For"] = request.remote or ""
    return headers


async def pump(source, sink) -> None:
    """WebSocket messages one way until either side closes."""
    async for message in source:
        if message.type == WSMsgType.TEXT:
            await sink.send_str(message.data)
        elif message.type == WSMsgType.BINARY:
            await sink.send_bytes(message.data)
        else:
            break
    await sink.close()


def create_app(upstreams: Sequence[str]) -> web.Application:
    balancer = Balancer(upstreams)
    app = web.Application(client_max_size=10 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", balancer.handle)
    app.on_startup.append(balancer.start)
    app.on_cleanup.append(balancer.stop)
    return app


def serve(host: str, port: int, upstreams: Sequence[str]) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s balancer %(message)s")
    web.run_app(create_app(upstreams), host=host, port=port, print=None, access_log=None)
