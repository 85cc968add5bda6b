"""The enums the models spell out for the type checker are the tables the relay works from."""

from __future__ import annotations

from typing import get_args

from relay_server.api.errors import ERROR_CODES
from relay_server.api.models.errors import ErrorCodeName
from relay_server.api.models.fields import PriorityWord
from relay_server.api.models.messages import PRIORITY_WORDS
from relay_server.api.models.webhooks import Event
from relay_server.store.models import STATUSES, Status
from relay_server.webhooks.events import EVENTS


def test_the_error_code_names_are_the_code_tables_sorted():
    assert get_args(ErrorCodeName) == tuple(sorted(ERROR_CODES))


def test_the_event_names_are_the_event_catalogue_in_its_order():
    assert get_args(Event) == EVENTS


def test_the_statuses_answers_show_are_the_stores_in_its_order():
    assert get_args(Status) == STATUSES


def test_the_priority_words_are_those_of_the_five_levels():
    assert get_args(PriorityWord) == tuple(PRIORITY_WORDS[level] for level in range(1, 6))
