"""`/api/v1/communities`: the street's communities the token reaches (CONTRACT §9)."""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter

from linli.api.schemas import CommunityOut
from linli.api.scope import ScopeDep
from linli.api.services import ServicesDep

router = APIRouter(prefix="/communities", tags=["registry"])


@router.get("")
def list_communities(scope: ScopeDep, services: ServicesDep) -> list[CommunityOut]:
    """The communities in scope, by id, each with its sites, sensors and cases not closed
    counted as far as the token sees them."""
    sites = {s.id: scope.community_of_grid(s.grid) for s in scope.sites()}
    site_count = Counter(sites.values())
    sensor_count = Counter(sites[s.site] for s in scope.sensors() if s.site in sites)
    with services.db.cases() as tx:
        open_count = Counter(sites[c.site] for c in tx.not_closed() if c.site in sites)
    return [
        CommunityOut(
            id=c.id,
            name=c.name,
            name_en=c.name_en,
            sites=site_count[c.id],
            sensors=sensor_count[c.id],
            open_cases=open_count[c.id],
        )
        for c in services.db.communities()
        if scope.sees_community(c.id)
    ]
