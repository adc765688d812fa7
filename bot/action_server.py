"""The action server's start-up, through rasa_sdk's plugin hook (`rasa_sdk.plugin`).

`python -m rasa_sdk --actions actions` imports the actions (which register this plugin), then lets
plugins extend its Sanic app: this one builds the actions' services before the server serves, so
its health check answers only once the first consumer has nothing left to wait for.
"""
from __future__ import annotations

from typing import Any

import pluggy

from bot import bootstrap

hookimpl = pluggy.HookimplMarker("rasa_sdk")


class BuildServicesBeforeServing:
    @hookimpl
    def attach_sanic_app_extensions(self, app: Any) -> None:
        app.register_listener(build_services, "before_server_start")


def build_services(*_: Any) -> None:
    bootstrap.build_action_services()


PLUGIN = BuildServicesBeforeServing()


def register() -> None:
    """Registers the plugin with rasa_sdk's plugin manager, once however often the actions are imported."""
    from rasa_sdk.plugin import plugin_manager

    manager = plugin_manager()
    if not manager.is_registered(PLUGIN):
        manager.register(PLUGIN)
