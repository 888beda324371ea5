"""How a passkey is named to the people who manage it: by the kind of authenticator that
holds it (its AAGUID, reported at enrolment, when the table below knows it), else plainly as
"a passkey"; and the short reference by which a page or a command names one passkey (its
credential id runs to 1,400 characters). Pure: no I/O.

The table holds the authenticators a school or a GP practice is likely to use, from the
community list of passkey providers' AAGUIDs; an AAGUID not in it (or all zeros, as many
security keys and privacy-minded providers report) is shown as "Passkey".
"""

import hashlib
from collections.abc import Mapping
from types import MappingProxyType

AUTHENTICATOR_NAMES: Mapping[str, str] = MappingProxyType({
    "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4": "Google Password Manager",
    "adce0002-35bc-c60a-648b-0b25f1f05503": "Chrome on Mac",
    "fbfc3007-154e-4ecc-8c0b-6e020557d7bd": "iCloud Keychain",
    "dd4ec289-e01d-41c9-bb89-70fa845d4bf2": "iCloud Keychain (managed)",
    "08987058-cadc-4b81-b6e1-30de50dcbe96": "Windows Hello",
    "9ddd1817-af5a-4672-a2b9-3e3dd95000a9": "Windows Hello",
    "6028b017-b1d4-4c02-b4b3-afcdafc96bb2": "Windows Hello",
    "bada5566-a7aa-401f-bd96-45619a55120d": "1Password",
    "d548826e-79b4-db40-a3d8-11116f7e8349": "Bitwarden",
    "531126d6-e717-415c-9320-3d9aa6981239": "Dashlane",
    "53414d53-554e-4700-0000-000000000000": "Samsung Pass",
    "cb69481e-8ff7-4039-93ec-0a2729a154a8": "YubiKey 5",
    "ee882879-721c-4913-9775-3dfcce97072a": "YubiKey 5",
    "fa2b99dc-9e39-4257-8f92-4a30d23c4118": "YubiKey 5 NFC",
})  # fmt: skip
UNKNOWN_AUTHENTICATOR = "Passkey"
REFERENCE_CHARS = 12  # hex: 48 bits, unique among one contact's few passkeys by far


def authenticator_name(aaguid: str | None) -> str:
    """The authenticator's name if the table knows its AAGUID, else plainly "Passkey"."""
    return AUTHENTICATOR_NAMES.get((aaguid or "").lower(), UNKNOWN_AUTHENTICATOR)


def passkey_reference(credential_id: str) -> str:
    """A short, stable name for one passkey: a hash of its (public) credential id, so that a
    page's form or a command names it without the id itself."""
    return hashlib.sha256(credential_id.encode()).hexdigest()[:REFERENCE_CHARS]
