"""What a person is told when their browser gives up on a passkey ceremony (the WebAuthn
promise rejected), by the ceremony and the error's name: what most likely happened and what
to do next, in plain words. Pure: a table, and a look-up that always answers.

A ceremony that fails in the browser never reaches the broker's checks, so the page reports
it (services/passkey_failures.py audits it) and shows the advice the broker answers.
"""

from collections.abc import Mapping
from types import MappingProxyType
from typing import get_args

from schemas.web_passkeys import BrowserError, CeremonyName

TRY_AGAIN = "Try again. If it keeps happening, ask your administrator for help."
BY_ERROR: Mapping[str, str] = MappingProxyType({
    "NotAllowedError": "The passkey request was cancelled, took too long, or your device "
                       "could not check it was you. Select the button again and follow your "
                       "device's instructions within 5 minutes.",
    "AbortError": "The passkey request was stopped before it finished. " + TRY_AGAIN,
    "InvalidStateError": "Your device could not use a passkey here. " + TRY_AGAIN,
    "SecurityError": "This page's address cannot use passkeys. Open the inbox from the address "
                     "your administrator gave you, and try again.",
    "NotSupportedError": "This device or browser cannot create or use this kind of passkey. "
                         "Try an up-to-date browser, or another device.",
    "ConstraintError": "Your device must check it is you (a PIN, fingerprint or face) to use a "
                       "passkey here. Set that up on the device, then try again.",
    "UnknownError": "Something went wrong with your device's passkey. " + TRY_AGAIN,
})  # fmt: skip
# Where the ceremony changes what is likely and what helps.
BY_CEREMONY_AND_ERROR: Mapping[tuple[str, str], str] = MappingProxyType({
    ("registration", "InvalidStateError"): "This device already has a passkey for this inbox. "
                                           "Sign in with that passkey instead.",
    ("recovery", "InvalidStateError"): "This device already has a passkey for this inbox. "
                                       "Use another device, or remove that passkey from this "
                                       "device's settings, then try again.",
    ("authentication", "NotAllowedError"): "The sign-in was cancelled, took too long, or this "
                                           "device has no passkey for this inbox. Try again; "
                                           "if you have lost your passkey, use your recovery "
                                           "key.",
})  # fmt: skip
CEREMONIES: tuple[str, ...] = get_args(CeremonyName)
ERRORS: tuple[str, ...] = get_args(BrowserError)


def advice(ceremony: str, error: str) -> str:
    """What to tell the person; an error this table does not know gets the general advice."""
    return BY_CEREMONY_AND_ERROR.get((ceremony, error)) or BY_ERROR.get(
        error, BY_ERROR["UnknownError"]
    )
