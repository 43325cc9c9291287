"""How the fleet's devices map onto MQTT connections: one each, or a few shared."""

from __future__ import annotations

import os
from collections.abc import Sequence

from .device import Device
from .leanlink import LeanLink
from .link import BaseLink, Endpoint, Link, LinkHandler, Will
from .options import PER_DEVICE, FleetOptions
from .reactor import Reactor


def open_links(
    devices: Sequence[Device], options: FleetOptions, reactor: Reactor, handler: LinkHandler
) -> tuple[list[BaseLink], list[BaseLink]]:
    """Create the links and hand them to the reactor; returns (links, link of each device)."""
    endpoint = Endpoint.parse(options.mqtt_url)
    links: list[BaseLink] = []
    if options.connections == PER_DEVICE:
        # Production ACLs: client id = username = sensor id, each device writes only under
        # its own prefix and reads only its own config (CONTRACT §2).
        for i, d in enumerate(devices):
            links.append(
                Link(
                    reactor, endpoint, d.spec.id, handler,
                    username=d.spec.id, password=endpoint.password,
                    will=Will(d.topics.status, Device.will()),
                    subscriptions=(d.topics.config,), members=(i,),
                )
            )  # fmt: skip
        link_of = list(links)
    else:
        # Brokers without ACLs only: a few connections publish for everyone.
        count = max(1, min(options.shared_links, len(devices)))
        for k in range(count):
            links.append(
                LeanLink(
                    reactor, endpoint, f"linli-sim-{os.getpid()}-{k}", handler,
                    username=endpoint.username, password=endpoint.password,
                    subscriptions=(f"{options.prefix}/+/config",),
                    members=range(k, len(devices), count),
                )
            )  # fmt: skip
        link_of = [links[i % count] for i in range(len(devices))]
    for link in links:
        reactor.add(link)
    return links, link_of
