"""The admin API's routes for alerts (``create_admin_api`` adds them): a contact's alert
channels, set whole and read back, and the report of contacts whose alerts keep failing (by
kind of channel, with the error's class: never an address), for the administrator or the
front door to put right. Every route needs an administrator's token, as the others do."""

from datetime import UTC, datetime, timedelta

from fastapi import FastAPI, Request
from pydantic import BaseModel

from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import Foundation
from broker.entrypoints import auth, http_errors
from broker.entrypoints.path_ids import ContactInPath
from broker.services import alert_channels, alerts
from broker.services.directory_changes import Outcome
from schemas.alerts import AlertChannelsSpec

BASE = "/v1/admin"
CONFLICT = http_errors.responses(409)  # a contact the directory lacks (the admin API's ERRORS)


class ChannelsChanged(BaseModel):
    id: str
    action: Outcome


class FailingAlerts(BaseModel):
    """A contact whose alerts to one kind of channel failed within the report's window."""

    contact_id: str
    channel: str
    dead: int
    retrying: int
    last_error: str | None
    last_failed_at: datetime | None


def add_alert_routes(app: FastAPI) -> None:
    @app.put(BASE + "/contacts/{contact_id}/alert-channels", response_model=ChannelsChanged,
             responses=CONFLICT)  # fmt: skip
    async def put_alert_channels(
        request: Request,
        caller: auth.Administrator,
        contact_id: ContactInPath,
        spec: AlertChannelsSpec,
    ) -> ChannelsChanged:
        """Replaces the contact's email addresses and mobile number (none: no alerts)."""
        async with _unit(request) as uow:
            action = await alert_channels.set_channels(uow, contact_id, spec, caller.org_id,
                                                       datetime.now(UTC))  # fmt: skip
        return ChannelsChanged(id=contact_id, action=action)

    @app.get(BASE + "/contacts/{contact_id}/alert-channels", response_model=AlertChannelsSpec,
             responses=CONFLICT)  # fmt: skip
    async def get_alert_channels(
        request: Request, _: auth.Administrator, contact_id: ContactInPath
    ) -> AlertChannelsSpec:
        async with _unit(request) as uow:
            return await alert_channels.channels_of(uow, contact_id)

    @app.get(BASE + "/alerts/failing", response_model=list[FailingAlerts])
    async def failing_alerts(request: Request, _: auth.Administrator) -> list[FailingAlerts]:
        """Contacts whose alerts died or are being retried, over the settings' window."""
        rt: Foundation = request.app.state.rt
        window = timedelta(days=rt.settings.alerts.failing_window_days)
        async with _unit(request) as uow:
            rows = await alerts.failing(uow, datetime.now(UTC), window)
        return [FailingAlerts(contact_id=r.contact_id, channel=r.channel_kind, dead=r.dead,
                              retrying=r.retrying, last_error=r.last_error,
                              last_failed_at=r.last_failed_at) for r in rows]  # fmt: skip


def _unit(request: Request) -> SqlUnitOfWork:
    rt: Foundation = request.app.state.rt
    return rt.unit_of_work()
