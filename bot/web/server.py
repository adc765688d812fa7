"""The backend process: the web chat page, payment pages and webhooks, the agent console and dashboard."""
from __future__ import annotations

from sanic import Sanic

from bot.bootstrap import agent_auth, agent_desk, session_signer
from bot.config import Settings
from bot.web.agent_console import install_agent_console
from bot.web.backend import create_backend_app
from bot.web.dashboard import dashboard_blueprint, ledger_report
from bot.web.payments import install_payments
from bot.web.webchat_session import webchat_session_blueprint


def build_app(settings: Settings) -> Sanic:
    app = create_backend_app(settings)
    app.blueprint(webchat_session_blueprint(session_signer()))
    install_payments(app, settings)  # /pay pages, /webhooks/stripe, the payments scheduler
    install_agent_console(app, agent_auth(), agent_desk)  # /agent/: login, queue, conversations, API
    app.blueprint(dashboard_blueprint(agent_auth(), ledger_report))  # /agent/dashboard: the KPIs
    return app


def serve(settings: Settings) -> None:
    app = build_app(settings)
    app.run(host=settings.bind_host, port=settings.backend_port, access_log=False, workers=1)
