"""The web inbox (issue 17): server-rendered pages over the inbox API's app, for the people
who receive notices. ``mount`` adds its routes and static files to that app.

Notices stay sealed to the server: a notice page embeds the sealed notice, and the browser
opens it (static/js/notice-crypto.js). A one-time link invites a person (sessions.py) to
enrol a passkey (passkeys.py), which signs them in from then on and unwraps the contact's key
in the browser.
"""

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from broker.entrypoints.web import (
    admin_pages,
    admin_passkeys,
    front_door,
    front_door_proposals,
    front_door_steps,
    live,
    own_passkeys,
    pages,
    passkeys,
)

STATIC = Path(__file__).parent / "static"


def mount(app: FastAPI) -> None:
    pages.add_pages(app)
    front_door.add_front_door_pages(app)
    front_door_proposals.add_proposal_pages(app)
    front_door_steps.add_step_pages(app)
    admin_pages.add_admin_pages(app)
    admin_passkeys.add_admin_passkey_pages(app)
    passkeys.add_passkey_routes(app)
    own_passkeys.add_own_passkey_pages(app)
    live.add_live_updates(app)
    app.mount("/inbox/static", StaticFiles(directory=STATIC), name="web-static")
    # GOV.UK Frontend's stylesheet names its fonts and images under /assets.
    app.mount("/assets", StaticFiles(directory=STATIC / "govuk" / "assets"), name="govuk-assets")
