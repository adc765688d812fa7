"""The agent console (pages) and the agent JSON API, every route behind bot.web.agent_auth.

API (the contract in docs/agents.md):
  GET  /agent/api/handoffs                       the queue
  GET  /agent/api/handoffs/<id>                  one handoff: transcript, research summary, replies
  POST /agent/api/handoffs/<id>/take             hold the conversation (the bot stops answering)
  POST /agent/api/handoffs/<id>/messages         {"text"}: to the consumer, on their channel
  POST /agent/api/handoffs/<id>/resolve          {"outcome", "note"}: close, hand back to the bot
Pages: /agent/ (queue) and /agent/handoffs/<id> (conversation); they use the API with the session.
Blocking service calls run in worker threads.
"""
from __future__ import annotations

import asyncio
import html
import json
from typing import Any, Callable

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.services.agent_desk import (
    OUTCOMES,
    DeliveryFailed,
    HandoffConflict,
    HandoffNotFound,
    InvalidRequest,
)
from bot.web.agent_auth import CONSOLE_HEADERS, AgentAuth, render

STATUSES = ("open", "assigned", "resolved")
ERRORS = ((HandoffNotFound, 404), (HandoffConflict, 409), (InvalidRequest, 400), (DeliveryFailed, 502))


def agent_console_blueprint(auth: AgentAuth, desk_provider: Callable[[], Any]) -> Blueprint:
    """`desk_provider` returns the AgentDesk (built on first use, so the app starts without Rasa)."""
    bp = Blueprint("agent_console")

    async def call(method: str, *args: Any) -> Any:
        desk = desk_provider()
        return await asyncio.to_thread(getattr(desk, method), *args)

    async def answer(method: str, *args: Any, status: int = 200) -> HTTPResponse:
        try:
            return response.json(await call(method, *args), status=status)
        except tuple(error for error, _ in ERRORS) as exc:
            code = next(code for error, code in ERRORS if isinstance(exc, error))
            return response.json({"error": str(exc)}, status=code)

    # --- pages --------------------------------------------------------------------------------------

    @bp.get("/agent/")
    @auth.require_agent
    async def queue_page(request: Request) -> HTTPResponse:
        return _page(render("queue.html", agent=request.ctx.agent, csrf=request.ctx.csrf_token))

    @bp.get("/agent/handoffs/<handoff_id:int>")
    @auth.require_agent
    async def conversation_page(request: Request, handoff_id: int) -> HTTPResponse:
        options = "".join(f'<option value="{name}">{html.escape(name.replace("_", " "))}: {html.escape(meaning)}</option>'
                          for name, meaning in OUTCOMES.items())
        page = render("conversation.html", agent=request.ctx.agent, csrf=request.ctx.csrf_token,
                      handoff_id=str(handoff_id))
        return _page(page.replace("<!--outcomes-->", options))

    # --- API ----------------------------------------------------------------------------------------

    @bp.get("/agent/api/handoffs")
    @auth.require_agent
    async def list_handoffs(request: Request) -> HTTPResponse:
        status = request.args.get("status")
        if status is not None and status not in STATUSES:
            return _bad(f"status must be one of: {', '.join(STATUSES)}")
        return await answer("queue", status)

    @bp.get("/agent/api/handoffs/<handoff_id:int>")
    @auth.require_agent
    async def show_handoff(request: Request, handoff_id: int) -> HTTPResponse:
        return await answer("detail", handoff_id)

    @bp.post("/agent/api/handoffs/<handoff_id:int>/take")
    @auth.require_agent
    async def take(request: Request, handoff_id: int) -> HTTPResponse:
        return await answer("take", handoff_id, request.ctx.agent)

    @bp.post("/agent/api/handoffs/<handoff_id:int>/messages")
    @auth.require_agent
    async def send_message(request: Request, handoff_id: int) -> HTTPResponse:
        body = _json_object(request)
        if isinstance(body, HTTPResponse):
            return body
        return await answer("reply", handoff_id, request.ctx.agent, body.get("text"), status=201)

    @bp.post("/agent/api/handoffs/<handoff_id:int>/resolve")
    @auth.require_agent
    async def resolve(request: Request, handoff_id: int) -> HTTPResponse:
        body = _json_object(request)
        if isinstance(body, HTTPResponse):
            return body
        return await answer("resolve", handoff_id, request.ctx.agent, body.get("outcome"), body.get("note", ""))

    @bp.get("/agent/api/outcomes")
    @auth.require_agent
    async def outcomes(request: Request) -> HTTPResponse:
        return response.json(OUTCOMES)

    return bp


def _page(html_text: str) -> HTTPResponse:
    return response.html(html_text, headers=CONSOLE_HEADERS)


def _bad(message: str) -> HTTPResponse:
    return response.json({"error": message}, status=400)


def _json_object(request: Request) -> Any:
    """The body as a JSON object, or a 400 response saying what is wrong with it."""
    try:
        body = json.loads(request.body or b"")
    except ValueError:
        return _bad("the body must be a JSON object, e.g. {\"text\": \"...\"}")
    if not isinstance(body, dict):
        return _bad("the body must be a JSON object, e.g. {\"text\": \"...\"}")
    return body


def install_agent_console(app, auth: AgentAuth, desk_provider: Callable[[], Any]) -> None:
    """Login/logout, the console's assets, pages and API."""
    from bot.web.agent_auth import agent_login_blueprint

    app.blueprint(agent_login_blueprint(auth))
    app.blueprint(agent_console_blueprint(auth, desk_provider))

