"""A relay process builds a model's validator when a request first needs it: none for routes it never serves."""

from __future__ import annotations

import json
import subprocess
import sys

# Prints the relay's models whose validator is built, once the app's modules are loaded and ``step`` ran.
BUILT = """
import json, sys
import pydantic
import relay_server.api.app, relay_server.api.openapi, relay_server.mobile.routes
{step}
def models(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from models(sub)
ours = {{m for m in models(pydantic.BaseModel) if m.__module__.startswith("relay_server.")}}
print(json.dumps(sorted(m.__qualname__ for m in ours if m.__pydantic_complete__)))
"""


def built_after(step: str = "") -> list[str]:
    found = subprocess.run([sys.executable, "-c", BUILT.format(step=step)], capture_output=True, text=True, timeout=120)
    assert found.returncode == 0, found.stderr
    return json.loads(found.stdout)


def test_a_relay_process_loads_its_routes_without_building_a_model():
    assert built_after() == []


def test_a_model_is_built_at_its_first_use_and_validates_as_before():
    step = (
        "from relay_server.mobile.shapes import RegisterRequest\n"
        "assert RegisterRequest.model_validate({'name': 'pixel', 'unknown': 1}).name == 'pixel'\n"
    )
    assert built_after(step) == ["RegisterRequest"]
