"""`/api/v1/sensors`: list, read (with last seen and status), create (admin), change (admin)."""

from __future__ import annotations

from fastapi import APIRouter, status

from linli.api.errors import CREATING, REFERRING
from linli.api.schemas import SensorCreate, SensorDetail, SensorOut, SensorPatch, hj212_out
from linli.api.scope import ScopeDep
from linli.api.services import ServicesDep
from linli.api.telemetry import Activity, sensor_activity
from linli.influx.client import InfluxError

router = APIRouter(prefix="/sensors", tags=["registry"])


@router.get("")
def list_sensors(scope: ScopeDep) -> list[SensorOut]:
    """The sensors the token may see."""
    return [SensorOut.of(s, scope.community_of_site(s.site)) for s in scope.sensors()]


@router.get("/{sensor_id}")
def get_sensor(sensor_id: str, scope: ScopeDep, services: ServicesDep) -> SensorDetail:
    """One sensor, with when it was last seen and what its last status message said."""
    sensor = scope.sensor(sensor_id)
    try:
        seen = sensor_activity(services.influx, sensor)
    except InfluxError:
        seen = Activity.unknown()  # the registry still answers when InfluxDB does not
    return SensorDetail(
        id=sensor.id,
        kind=sensor.kind,
        site=sensor.site,
        hj212=hj212_out(sensor),
        community=scope.community_of_site(sensor.site),
        status=seen.status,
        online=seen.online,
        last_seen_ms=seen.last_seen_ms,
        last_reading_ms=seen.last_reading_ms,
    )


@router.post("", status_code=status.HTTP_201_CREATED, responses=CREATING)
def create_sensor(body: SensorCreate, scope: ScopeDep, services: ServicesDep) -> SensorOut:
    """Add a sensor to an existing site (an HJ 212 monitor with `hj212`: its MN is one sensor's)."""
    scope.require_admin()
    sensor = services.db.create_sensor(body.record())
    return SensorOut.of(sensor, scope.community_of_site(sensor.site))


@router.patch("/{sensor_id}", responses=REFERRING)
def patch_sensor(
    sensor_id: str, body: SensorPatch, scope: ScopeDep, services: ServicesDep
) -> SensorOut:
    """Change a sensor's kind, site or HJ 212 block (the password is never shown back)."""
    scope.sensor(sensor_id)
    scope.require_admin()
    sensor = services.db.patch_sensor(sensor_id, body.changes())
    return SensorOut.of(sensor, scope.community_of_site(sensor.site))
