"""Every port of the core (rules/ports.py) is one something uses: a Protocol nothing
implements or asks for is a promise the code does not keep."""

from __future__ import annotations

import inspect
import re
from typing import Protocol

import pytest

from linli.rules import ports
from tools.layout import modules

PORTS = sorted(
    name
    for name, obj in vars(ports).items()
    if inspect.isclass(obj) and Protocol in obj.__mro__[1:] and obj.__module__ == ports.__name__
)


def test_the_core_has_ports():
    assert {"CaseStore", "ReadingHistory", "Teller"} <= set(PORTS)


@pytest.mark.parametrize("port", PORTS)
def test_every_port_is_used_outside_its_module(port):
    pattern = re.compile(rf"\b{port}\b")
    users = [
        name
        for name, path in modules().items()
        if name.startswith("linli.")
        and name != ports.__name__
        and pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert users, f"rules/ports.py's {port} is used nowhere: remove it"
