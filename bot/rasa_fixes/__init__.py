"""Fixes to Rasa 3.6, one module per part of Rasa they change; `bot.rasa_server.install` puts them in place.

Each was found by sampling the Rasa process of the running stack under `make bench`'s journeys
(py-spy), by timing each step of those journeys, or by sampling in process, and each is checked
against Rasa's own code in tests.
"""
