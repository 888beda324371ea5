"""Passkeys at the web inbox, through the real app and database, with a software passkey
(tests/web/soft_authenticator.py) answering as a browser and its authenticator would: enrol
after a sign-in link, sign in, the key wrapped under the PRF output handed back only then, the
recovery key; and each refusal (a challenge used twice, another origin, no user verification,
an unknown passkey, a PRF result sent) is a 400 or 422, audited."""

import json
import os
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from broker.adapters import audit
from broker.bootstrap import Runtime
from broker.rules.authenticators import passkey_reference
from broker.rules.passkeys import b64url
from tests.web.conftest import BASE_URL, form_token, new_browser, sign_in
from tests.web.soft_authenticator import SoftPasskey, recovery_lookup, unwrap, wrap

pytestmark = pytest.mark.integration
KEY_ADULT = "school-oakfield:key_adult"
JSON = {"content-type": "application/json"}


@dataclass
class Enrolled:
    passkey: SoftPasskey
    secret: bytes  # the contact's private key, as the browser holds it at enrolment
    recovery_key: bytes
    browser: httpx.AsyncClient


def soft_passkey() -> SoftPasskey:
    return SoftPasskey(rp_id="127.0.0.1", origin=BASE_URL)


async def registration_options(browser: httpx.AsyncClient) -> tuple[str, dict[str, Any]]:
    """The enrol page's CSRF token, and the options its script fetches with it."""
    page = await browser.get("/inbox/passkeys/enrol")
    assert page.status_code == 200, page.text
    csrf = page_csrf(page)
    answer = await browser.post("/inbox/passkeys/registration/options",
                                headers=JSON | {"x-csrf-token": csrf}, json={})  # fmt: skip
    assert answer.status_code == 200, answer.text
    return csrf, answer.json()["publicKey"]


def page_csrf(page: httpx.Response) -> str:
    marker = 'data-csrf-token="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


def enrolment(passkey: SoftPasskey, options: dict[str, Any], secret: bytes,
              recovery_key: bytes, contact_id: str = KEY_ADULT) -> dict[str, Any]:  # fmt: skip
    credential = passkey.create(options)
    prf = passkey.prf(options)
    return {"challenge": options["challenge"], "credential": credential,
            "wrapped_key": wrap(secret, prf, contact_id),
            "recovery": {"lookup": recovery_lookup(recovery_key),
                         "wrapped_key": wrap(secret, recovery_key, contact_id)}}  # fmt: skip


async def enrol(app: FastAPI) -> Enrolled:
    browser = new_browser(app)
    await sign_in(app, browser, KEY_ADULT)
    csrf, options = await registration_options(browser)
    passkey, secret, recovery_key = soft_passkey(), os.urandom(32), os.urandom(20)
    body = enrolment(passkey, options, secret, recovery_key)
    headers = JSON | {"x-csrf-token": csrf}
    answer = await browser.post("/inbox/passkeys/registration", headers=headers, json=body)
    assert answer.status_code == 200, answer.text
    return Enrolled(passkey, secret, recovery_key, browser)


async def passkey_sign_in(
    browser: httpx.AsyncClient, passkey: SoftPasskey, origin: str | None = None
) -> tuple[httpx.Response, dict[str, Any]]:
    options = (await browser.post("/inbox/passkeys/authentication/options", headers=JSON,
                                  json={})).json()["publicKey"]  # fmt: skip
    body = {"challenge": options["challenge"], "credential": passkey.get(options, origin)}
    return await browser.post("/inbox/passkeys/authentication", headers=JSON, json=body), options


async def audit_actions(app: FastAPI) -> list[tuple[str, dict[str, Any]]]:
    rt: Runtime = app.state.rt
    async with rt.sessions() as session:
        rows = (
            await session.scalars(select(audit.AuditEntry).order_by(audit.AuditEntry.seq))
        ).all()
    return [(row.action, json.loads(row.details)) for row in rows]


class TestEnrolment:
    async def test_a_link_then_a_passkey_signs_in_and_gets_the_wrapped_key_back(
        self, web_app: FastAPI
    ) -> None:
        """After a link, the person enrols a passkey; from a fresh browser that passkey signs
        in, and only then does the broker hand back the key wrapped under its PRF output,
        which unwraps (as the browser would) to the key the person enrolled with."""
        enrolled = await enrol(web_app)
        assert (await enrolled.browser.get("/inbox")).status_code == 200
        fresh = new_browser(web_app)
        answer, options = await passkey_sign_in(fresh, enrolled.passkey)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        prf = enrolled.passkey.prf(options)
        assert unwrap(body["wrapped_key"], prf, body["contact_id"]) == enrolled.secret
        assert (await fresh.get("/inbox")).status_code == 200

    async def test_enrolment_and_sign_in_are_audited_by_ids(self, web_app: FastAPI) -> None:
        """The enrolment and each sign-in are in the audit log, naming the person and the
        passkey's id, never a key or a PRF output."""
        enrolled = await enrol(web_app)
        await passkey_sign_in(new_browser(web_app), enrolled.passkey)
        actions = await audit_actions(web_app)
        credential = b64url(enrolled.passkey.credential_id)[:16]
        assert ("passkey_enrolled", {"with": "link", "credential": credential}) in actions
        assert [d["with"] for a, d in actions if a == "signed_in"] == ["link", "passkey", "passkey"]

    async def test_the_options_ask_for_a_resident_verified_passkey_with_prf(
        self, web_app: FastAPI, browser: httpx.AsyncClient
    ) -> None:
        """A discoverable passkey, user verification required, and the PRF evaluated."""
        await sign_in(web_app, browser, KEY_ADULT)
        _, options = await registration_options(browser)
        selection = options["authenticatorSelection"]
        assert (selection["residentKey"], selection["userVerification"]) == ("required", "required")
        assert set(options["extensions"]["prf"]["eval"]) == {"first"}

    async def test_enrolling_needs_the_sessions_csrf_token(
        self, web_app: FastAPI, browser: httpx.AsyncClient
    ) -> None:
        """Without the page's token the options are refused (403), as any form is."""
        await sign_in(web_app, browser, KEY_ADULT)
        answer = await browser.post("/inbox/passkeys/registration/options", headers=JSON, json={})
        assert answer.status_code == 403

    async def test_a_registration_is_used_once(
        self, web_app: FastAPI, browser: httpx.AsyncClient
    ) -> None:
        """The same answer posted again, from another link's session: its challenge is
        spent (400)."""
        await sign_in(web_app, browser, KEY_ADULT)
        csrf, options = await registration_options(browser)
        body = enrolment(soft_passkey(), options, os.urandom(32), os.urandom(20))
        headers = JSON | {"x-csrf-token": csrf}
        first = await browser.post("/inbox/passkeys/registration", headers=headers, json=body)
        other = new_browser(web_app)
        await sign_in(web_app, other, KEY_ADULT)
        csrf = page_csrf(await other.get("/inbox/passkeys/enrol"))
        again = await other.post("/inbox/passkeys/registration",
                                 headers=JSON | {"x-csrf-token": csrf}, json=body)  # fmt: skip
        assert (first.status_code, again.status_code) == (200, 400)

    async def test_a_passkey_without_user_verification_is_refused_and_audited(
        self, web_app: FastAPI, browser: httpx.AsyncClient
    ) -> None:
        """Presence alone (no PIN, no fingerprint) does not enrol: 400, and the refusal is in
        the audit log with its reason."""
        await sign_in(web_app, browser, KEY_ADULT)
        csrf, options = await registration_options(browser)
        passkey = soft_passkey()
        body = enrolment(passkey, options, os.urandom(32), os.urandom(20))
        body["credential"] = passkey.create(options, verified=False)
        answer = await browser.post("/inbox/passkeys/registration",
                                    headers=JSON | {"x-csrf-token": csrf}, json=body)  # fmt: skip
        assert answer.status_code == 400
        refused = [d for a, d in await audit_actions(web_app) if a == "passkey_refused"]
        assert refused == [{"ceremony": "registration", "reason": "InvalidRegistrationResponse",
                            "credential": None}]  # fmt: skip

    async def test_a_prf_result_sent_to_the_broker_is_refused(
        self, web_app: FastAPI, browser: httpx.AsyncClient
    ) -> None:
        """A credential carrying PRF results is not taken (422): they are the key's key."""
        await sign_in(web_app, browser, KEY_ADULT)
        csrf, options = await registration_options(browser)
        body = enrolment(soft_passkey(), options, os.urandom(32), os.urandom(20))
        body["credential"]["clientExtensionResults"] = {"prf": {"results": {"first": "AA"}}}
        answer = await browser.post("/inbox/passkeys/registration",
                                    headers=JSON | {"x-csrf-token": csrf}, json=body)  # fmt: skip
        assert answer.status_code == 422
        assert "AA" not in answer.text


class TestLinkAfterEnrolment:
    async def test_a_link_then_only_invites_a_new_person_to_enrol(self, web_app: FastAPI) -> None:
        """Once the contact has a passkey, a link's session reads no inbox (401) but can
        enrol a new person's passkey."""
        await enrol(web_app)
        browser = new_browser(web_app)
        await sign_in(web_app, browser, KEY_ADULT)
        assert (await browser.get("/inbox")).status_code == 401
        assert (await browser.get("/inbox/passkeys/enrol")).status_code == 200

    async def test_a_passkeys_session_cannot_enrol_another_person(self, web_app: FastAPI) -> None:
        """Enrolment starts from a link: a passkey's session asking for options is refused."""
        enrolled = await enrol(web_app)
        inbox = await enrolled.browser.get("/inbox")
        answer = await enrolled.browser.post(
            "/inbox/passkeys/registration/options",
            headers=JSON | {"x-csrf-token": form_token(inbox)}, json={},
        )  # fmt: skip
        assert answer.status_code == 400


class TestAuthentication:
    async def test_an_unknown_passkey_is_refused_and_audited(
        self, web_app: FastAPI, browser: httpx.AsyncClient
    ) -> None:
        """A passkey this broker never enrolled: 400, no session, the refusal audited."""
        answer, _ = await passkey_sign_in(browser, soft_passkey())
        assert answer.status_code == 400
        assert "set-cookie" not in answer.headers
        refused = [d for a, d in await audit_actions(web_app) if a == "passkey_refused"]
        assert refused == [{"ceremony": "authentication", "reason": "unknown_passkey",
                            "credential": None}]  # fmt: skip

    async def test_an_assertion_for_another_origin_is_refused(self, web_app: FastAPI) -> None:
        """A phishing site's relayed ceremony names its own origin: refused."""
        enrolled = await enrol(web_app)
        answer, _ = await passkey_sign_in(new_browser(web_app), enrolled.passkey,
                                          origin="https://inbox.example.net")  # fmt: skip
        assert answer.status_code == 400

    async def test_an_assertion_is_used_once(self, web_app: FastAPI) -> None:
        """The same signed answer replayed: its challenge is spent (400)."""
        enrolled = await enrol(web_app)
        browser = new_browser(web_app)
        options = (await browser.post("/inbox/passkeys/authentication/options", headers=JSON,
                                      json={})).json()["publicKey"]  # fmt: skip
        body = {"challenge": options["challenge"], "credential": enrolled.passkey.get(options)}
        first = await browser.post("/inbox/passkeys/authentication", headers=JSON, json=body)
        again = await browser.post("/inbox/passkeys/authentication", headers=JSON, json=body)
        assert (first.status_code, again.status_code) == (200, 400)

    async def test_another_sites_request_is_refused(
        self, web_app: FastAPI, browser: httpx.AsyncClient
    ) -> None:
        """An Origin other than the inbox's, or a body that is not JSON: 422, no challenge."""
        elsewhere = JSON | {"origin": "https://evil.example"}
        other = await browser.post("/inbox/passkeys/authentication/options", headers=elsewhere,
                                   json={})  # fmt: skip
        form = await browser.post("/inbox/passkeys/authentication", data={"challenge": "x"})
        assert (other.status_code, form.status_code) == (422, 422)


async def recovery_options(
    browser: httpx.AsyncClient, enrolled: Enrolled, keep_others: bool
) -> dict[str, Any]:
    """What the recovery page's script is given for the person's recovery key."""
    lookup = {"lookup": recovery_lookup(enrolled.recovery_key), "keep_others": keep_others}
    found = await browser.post("/inbox/passkeys/recovery/options", headers=JSON, json=lookup)
    assert found.status_code == 200, found.text
    given: dict[str, Any] = found.json()
    return given


async def recovery_answer(
    browser: httpx.AsyncClient, enrolled: Enrolled, keep_others: bool, renewed: bytes | None,
    given: dict[str, Any] | None = None,
) -> tuple[httpx.Response, SoftPasskey]:  # fmt: skip
    """A new passkey made with the person's recovery key, as the recovery page's script
    sends it (with the wrap of ``renewed``, a new recovery key, unless None), to the options
    ``given`` (else asked for now); the answer."""
    given = given or await recovery_options(browser, enrolled, keep_others)
    # Adding: no device holding one of the person's passkeys may make another in its place.
    excluded = {c["id"] for c in given["publicKey"].get("excludeCredentials", [])}
    assert (b64url(enrolled.passkey.credential_id) in excluded) == keep_others
    contact_id = given["contact_id"]
    assert unwrap(given["wrapped_key"], enrolled.recovery_key, contact_id) == enrolled.secret
    new, options = soft_passkey(), given["publicKey"]
    body = {"challenge": options["challenge"], "credential": new.create(options),
            "wrapped_key": wrap(enrolled.secret, new.prf(options), contact_id),
            "keep_others": keep_others,
            "used": recovery_lookup(enrolled.recovery_key)}  # fmt: skip
    if renewed is not None:
        body["recovery"] = {"lookup": recovery_lookup(renewed),
                            "wrapped_key": wrap(enrolled.secret, renewed, contact_id)}  # fmt: skip
    return await browser.post("/inbox/passkeys/recovery", headers=JSON, json=body), new


async def recovered(
    app: FastAPI, enrolled: Enrolled, keep_others: bool = False
) -> tuple[httpx.AsyncClient, SoftPasskey]:
    """A new browser enrols a passkey with the person's recovery key (in place of their
    others, with a new recovery key, which ``enrolled`` then holds; or beside them); it is
    signed in with it."""
    browser = new_browser(app)
    renewed = None if keep_others else os.urandom(20)
    answer, new = await recovery_answer(browser, enrolled, keep_others, renewed)
    assert answer.status_code == 200, answer.text
    assert answer.json()["next"] == ("/inbox/passkeys" if keep_others else "/inbox")
    enrolled.recovery_key = renewed or enrolled.recovery_key
    return browser, new


async def finds(app: FastAPI, person: Enrolled) -> bool:
    """Whether the person's recovery key (as ``person`` holds it now) finds them: their own
    key, wrapped under it, is handed back."""
    lookup = {"lookup": recovery_lookup(person.recovery_key)}
    answer = await new_browser(app).post("/inbox/passkeys/recovery/options", headers=JSON,
                                         json=lookup)  # fmt: skip
    if answer.status_code != 200:
        return False
    given = answer.json()
    return unwrap(given["wrapped_key"], person.recovery_key, given["contact_id"]) == person.secret


class TestRecovery:
    async def test_the_recovery_key_enrols_a_passkey_in_place_of_the_old(
        self, web_app: FastAPI
    ) -> None:
        """The recovery key finds the person and unwraps the key; the new passkey signs in
        (its session records it: "This device" in the person's list), and the old one no
        longer does: a session it opened (a lost phone, still open) ends, while another
        person's session at the contact runs on."""
        enrolled, other = await enrol(web_app), await enrol(web_app)
        assert (await enrolled.browser.get("/inbox")).status_code == 200
        browser, new = await recovered(web_app, enrolled)
        assert (await browser.get("/inbox")).status_code == 200
        own = (await browser.get("/inbox/passkeys")).text
        assert "This device" in own
        assert passkey_reference(b64url(new.credential_id)) in own
        old, _ = await passkey_sign_in(new_browser(web_app), enrolled.passkey)
        renewed, _ = await passkey_sign_in(new_browser(web_app), new)
        assert (old.status_code, renewed.status_code) == (400, 200)
        lost, others = enrolled.browser, other.browser
        assert [(await b.get("/inbox")).status_code for b in (lost, others)] == [401, 200]

    async def test_the_recovery_key_adds_a_second_device_beside_the_first(
        self, web_app: FastAPI
    ) -> None:
        """Added with the recovery key (a second device, nothing lost): both passkeys sign
        in, the first device's open session runs on, the person's list shows both, and the
        enrolment is audited as one that kept the others."""
        enrolled = await enrol(web_app)
        browser, new = await recovered(web_app, enrolled, keep_others=True)
        assert (await browser.get("/inbox")).status_code == 200
        first, _ = await passkey_sign_in(new_browser(web_app), enrolled.passkey)
        second, _ = await passkey_sign_in(new_browser(web_app), new)
        assert (first.status_code, second.status_code) == (200, 200)
        assert (await enrolled.browser.get("/inbox")).status_code == 200
        own = (await browser.get("/inbox/passkeys")).text
        for passkey in (enrolled.passkey, new):
            assert passkey_reference(b64url(passkey.credential_id)) in own
        [*_, added] = [d for a, d in await audit_actions(web_app) if a == "passkey_enrolled"]
        assert (added["kept_others"], added["removed"], added["sessions_ended"]) == (1, 0, 0)

    async def test_the_first_device_is_shown_the_added_passkey_once(self, web_app: FastAPI) -> None:
        """The first device's next sign-in goes to the person's passkeys, which say one was
        added with the recovery key (someone else may hold it); the one after goes to the
        inbox. The added device's own sign-in is told of nothing."""
        enrolled = await enrol(web_app)
        first, _ = await passkey_sign_in(new_browser(web_app), enrolled.passkey)
        assert first.json()["next"] == "/inbox"
        _, new = await recovered(web_app, enrolled, keep_others=True)
        browser = new_browser(web_app)
        told, _ = await passkey_sign_in(browser, enrolled.passkey)
        assert (told.json()["next"], told.json()["check_passkeys"]) == (
            "/inbox/passkeys?added=1", True)  # fmt: skip
        page = (await browser.get("/inbox/passkeys?added=1")).text
        assert "A passkey was added with your recovery key" in page
        again, _ = await passkey_sign_in(new_browser(web_app), enrolled.passkey)
        added_here, _ = await passkey_sign_in(new_browser(web_app), new)
        assert [a.json()["next"] for a in (again, added_here)] == ["/inbox", "/inbox"]

    async def test_replacing_after_adding_removes_both_and_ends_both_sessions(
        self, web_app: FastAPI
    ) -> None:
        """A device added, then a passkey lost: the replacement removes the first passkey
        and the added one, and the sessions each opened end."""
        enrolled = await enrol(web_app)
        added_browser, added = await recovered(web_app, enrolled, keep_others=True)
        browser, _ = await recovered(web_app, enrolled)
        for gone in (enrolled.passkey, added):
            refused, _ = await passkey_sign_in(new_browser(web_app), gone)
            assert refused.status_code == 400
        assert [(await b.get("/inbox")).status_code
                for b in (enrolled.browser, added_browser, browser)] == [401, 401, 200]  # fmt: skip
        [*_, replaced] = [d for a, d in await audit_actions(web_app) if a == "passkey_enrolled"]
        assert (replaced["kept_others"], replaced["removed"]) == (0, 2)

    async def test_a_replacement_renews_the_recovery_key(self, web_app: FastAPI) -> None:
        """After a replacement the recovery key used finds nobody; the new one finds the
        person and unwraps their key, and replaces again. Adding a device keeps the key."""
        enrolled = await enrol(web_app)
        used = enrolled.recovery_key
        await recovered(web_app, enrolled, keep_others=True)
        assert enrolled.recovery_key == used
        await recovered(web_app, enrolled)
        assert enrolled.recovery_key != used
        assert await finds(web_app, enrolled)
        assert not await finds(web_app, replace(enrolled, recovery_key=used))
        await recovered(web_app, enrolled)  # the new key, its wrap checked there
        enrolments = [d for a, d in await audit_actions(web_app) if a == "passkey_enrolled"]
        assert [d.get("recovery_key_renewed") for d in enrolments] == [None, 0, 1, 1]
        refused = [d["reason"] for a, d in await audit_actions(web_app) if a == "passkey_refused"]
        assert refused == ["unknown_recovery_key"]

    @pytest.mark.parametrize("keep_others", [False, True])
    async def test_a_new_recovery_key_only_with_a_replacement(
        self, web_app: FastAPI, keep_others: bool
    ) -> None:
        """A replacement without a new recovery key, or an addition with one: 422, and the
        person's passkey and recovery key stay as they were."""
        enrolled = await enrol(web_app)
        renewed = os.urandom(20) if keep_others else None
        answer, _ = await recovery_answer(new_browser(web_app), enrolled, keep_others, renewed)
        assert answer.status_code == 422, answer.text
        kept, _ = await passkey_sign_in(new_browser(web_app), enrolled.passkey)
        assert kept.status_code == 200
        assert await finds(web_app, enrolled)

    async def test_of_two_replacements_with_one_recovery_key_the_later_is_refused(
        self, web_app: FastAPI
    ) -> None:
        """Two browsers asked for their options with the same recovery key; the first to
        answer renews it, so the second is refused (400, audited as a changed key, told to
        ask the administrator) and nothing of it is stored: the first's passkey and new key
        stand, never a key shown that finds nobody."""
        enrolled = await enrol(web_app)
        first, second = new_browser(web_app), new_browser(web_app)
        given = [await recovery_options(b, enrolled, False) for b in (first, second)]
        renewed = os.urandom(20)
        answer, kept = await recovery_answer(first, enrolled, False, renewed, given[0])
        late, dropped = await recovery_answer(second, enrolled, False, os.urandom(20), given[1])
        assert (answer.status_code, late.status_code) == (200, 400)
        assert "ask your administrator" in late.json()["error"]
        signs_in = [(await passkey_sign_in(new_browser(web_app), p))[0].status_code
                    for p in (kept, dropped)]  # fmt: skip
        assert signs_in == [200, 400]
        assert not await finds(web_app, enrolled)  # the key both used
        assert await finds(web_app, replace(enrolled, recovery_key=renewed))
        refused = [d["reason"] for a, d in await audit_actions(web_app) if a == "passkey_refused"]
        assert refused.count("recovery_key_changed") == 1

    async def test_a_device_added_with_a_key_renewed_meanwhile_is_refused(
        self, web_app: FastAPI
    ) -> None:
        """Someone holding the recovery key asks to add a device; the person replaces their
        passkeys (renewing the key) before that is answered: the addition is refused and
        stores nothing, so a stolen key's pending ceremony does not outlive the renewal."""
        enrolled = await enrol(web_app)
        stolen = replace(enrolled)  # the key as it was when stolen
        thief = new_browser(web_app)
        pending = await recovery_options(thief, stolen, True)
        await recovered(web_app, enrolled)  # the person's replacement, renewing the key
        answer, added = await recovery_answer(thief, stolen, True, None, pending)
        assert answer.status_code == 400, answer.text
        refused, _ = await passkey_sign_in(new_browser(web_app), added)
        assert refused.status_code == 400
        assert await finds(web_app, enrolled)
        reasons = [d["reason"] for a, d in await audit_actions(web_app) if a == "passkey_refused"]
        assert reasons.count("recovery_key_changed") == 1

    async def test_a_recovery_key_that_finds_someone_is_not_taken(self, web_app: FastAPI) -> None:
        """The "new" recovery key is the one used, or another person's: refused (400) and
        audited, and nothing of the replacement stays: the old passkey still signs in, the
        old key still finds the person, the other person's key them."""
        enrolled, other = await enrol(web_app), await enrol(web_app)
        for taken in (enrolled.recovery_key, other.recovery_key):
            answer, new = await recovery_answer(new_browser(web_app), enrolled, False, taken)
            assert answer.status_code == 400, answer.text
            refused, _ = await passkey_sign_in(new_browser(web_app), new)
            kept, _ = await passkey_sign_in(new_browser(web_app), enrolled.passkey)
            assert (refused.status_code, kept.status_code) == (400, 200)
        for person in (enrolled, other):
            assert await finds(web_app, person)
        refused_for = [
            d["reason"] for a, d in await audit_actions(web_app) if a == "passkey_refused"
        ]
        assert refused_for.count("recovery_key_taken") == 2

    async def test_an_unknown_recovery_key_is_refused_and_audited(
        self, web_app: FastAPI, browser: httpx.AsyncClient
    ) -> None:
        """A recovery key nobody enrolled with: 400, audited, nothing handed out."""
        answer = await browser.post("/inbox/passkeys/recovery/options", headers=JSON,
                                    json={"lookup": recovery_lookup(os.urandom(20))})  # fmt: skip
        assert answer.status_code == 400
        assert "wrapped_key" not in answer.text
        refused = [d for a, d in await audit_actions(web_app) if a == "passkey_refused"]
        assert [d["reason"] for d in refused] == ["unknown_recovery_key"]


class TestSignedOut:
    async def test_a_passkeys_person_is_told_to_sign_in_with_it(self, web_app: FastAPI) -> None:
        """Signed out after a passkey's sign-in: the page sends them to the passkey sign-in,
        and says nothing of asking for a new link."""
        enrolled = await enrol(web_app)
        inbox = await enrolled.browser.get("/inbox")
        answer = await enrolled.browser.post("/inbox/sign-out",
                                             data={"csrf_token": form_token(inbox)})  # fmt: skip
        assert answer.headers["location"] == "/inbox/signed-out"
        page = await enrolled.browser.get(answer.headers["location"])
        assert 'href="/inbox/passkeys/sign-in"' in page.text
        assert "sign in with your passkey" in page.text
        assert "new sign-in link" not in page.text


class TestCeremonyFailed:
    async def test_from_the_sign_in_page_audited_and_advised(self, web_app: FastAPI) -> None:
        """The sign-in page's token (double-submitted) reports a cancelled sign-in: audited by
        kind and error, answered with what to do next."""
        browser = new_browser(web_app)
        csrf = page_csrf(await browser.get("/inbox/passkeys/sign-in"))
        answer = await browser.post("/inbox/passkeys/ceremony-failed",
                                    headers=JSON | {"x-csrf-token": csrf},
                                    json={"ceremony": "authentication",
                                          "error": "NotAllowedError"})  # fmt: skip
        assert answer.status_code == 200, answer.text
        assert "recovery key" in answer.json()["advice"]
        assert ("passkey_ceremony_failed",
                {"ceremony": "authentication", "error": "NotAllowedError"}) in (
            await audit_actions(web_app))  # fmt: skip

    async def test_from_the_enrolment_page_with_the_sessions_token(self, web_app: FastAPI) -> None:
        """The enrolment page reports with its session's token."""
        browser = new_browser(web_app)
        await sign_in(web_app, browser, KEY_ADULT)
        csrf = page_csrf(await browser.get("/inbox/passkeys/enrol"))
        answer = await browser.post("/inbox/passkeys/ceremony-failed",
                                    headers=JSON | {"x-csrf-token": csrf},
                                    json={"ceremony": "registration",
                                          "error": "InvalidStateError"})  # fmt: skip
        assert answer.status_code == 200, answer.text
        assert "already has a passkey" in answer.json()["advice"]

    @pytest.mark.parametrize("token", [None, "forged"])
    async def test_without_the_pages_token_refused_and_not_audited(
        self, web_app: FastAPI, token: str | None
    ) -> None:
        """No token, or not the page's: 403, nothing audited."""
        browser = new_browser(web_app)
        await browser.get("/inbox/passkeys/sign-in")
        headers = JSON | ({"x-csrf-token": token} if token else {})
        answer = await browser.post("/inbox/passkeys/ceremony-failed", headers=headers,
                                    json={"ceremony": "authentication",
                                          "error": "NotAllowedError"})  # fmt: skip
        assert answer.status_code == 403
        assert "passkey_ceremony_failed" not in [a for a, _ in await audit_actions(web_app)]

    @pytest.mark.parametrize(
        "body",
        [{"ceremony": "authentication", "error": "Leo Carter"},
         {"ceremony": "payment", "error": "NotAllowedError"},
         {"ceremony": "authentication", "error": "NotAllowedError", "credential": "x"}],
    )  # fmt: skip
    async def test_anything_but_a_kind_and_a_known_error_is_refused(
        self, web_app: FastAPI, body: dict[str, str]
    ) -> None:
        """A made-up error name or kind, or any other field: 422 naming no value."""
        browser = new_browser(web_app)
        csrf = page_csrf(await browser.get("/inbox/passkeys/recovery"))
        answer = await browser.post("/inbox/passkeys/ceremony-failed",
                                    headers=JSON | {"x-csrf-token": csrf}, json=body)  # fmt: skip
        assert answer.status_code == 422
        assert "Leo" not in answer.text
