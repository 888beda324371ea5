// The passkey pages (templates/passkey_*.html): enrol, sign in, and enrol anew with the
// recovery key. The contact's private key is only ever wrapped when it leaves this browser:
// AES-256-GCM under a key HKDF-SHA256 derives from the passkey's PRF output (WebAuthn's `prf`
// extension) or from the printed recovery key, the contact's id as associated data (see
// schemas/web_passkeys.py). Neither the PRF output, the recovery key nor the unwrapped key is
// ever sent; PRF results are left out of the credential this page posts.

import { importHybridSecret, importRecipientKey, importX25519Secret } from "./notice-crypto.js";
import { keepKey } from "./key-keeper.js";

const subtle = globalThis.crypto.subtle;
const utf8 = new TextEncoder();
const WRAP_INFO = utf8.encode("sgb contact key wrap v1");
const LOOKUP_INFO = utf8.encode("sgb recovery lookup v1");
// producers/recipient_keys.py's hybrid key file, and RFC 8410's PKCS#8 for an X25519 key.
const HYBRID_FILE_TAG = utf8.encode("sgb-mlkem768-x25519-private-v1\n");
const X25519_PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
]);
const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const RECOVERY_BYTES = 20; // 160 bits: 32 base32 characters

class PasskeyError extends Error {}

// The browser's WebAuthn call rejected (cancelled, timed out, not possible here): reported to
// the broker by the ceremony's kind and the error's name only, which answers what to do next.
class CeremonyFailed extends Error {
  constructor(ceremony, name) {
    super(name);
    this.ceremony = ceremony;
    this.errorName = name;
  }
}
const BROWSER_ERRORS = ["NotAllowedError", "AbortError", "InvalidStateError", "SecurityError",
  "NotSupportedError", "ConstraintError", "UnknownError"];

async function ceremony(kind, call) {
  try {
    return await call();
  } catch (error) {
    throw new CeremonyFailed(kind, BROWSER_ERRORS.includes(error?.name) ? error.name : "UnknownError");
  }
}

async function report(failure, csrfToken) {
  try {
    const answer = await postJson("/inbox/passkeys/ceremony-failed",
      { ceremony: failure.ceremony, error: failure.errorName }, csrfToken);
    return answer.advice;
  } catch {
    return "The passkey request did not finish. Try again. If it keeps happening, ask your administrator for help.";
  }
}

const status = document.getElementById("passkey-status");

function say(text) {
  status.textContent = text;
}

// ---------------------------------------------------------------- bytes

export function b64url(bytes) {
  let text = "";
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
  return btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function fromB64url(text) {
  const base64 = text.replaceAll("-", "+").replaceAll("_", "/");
  return Uint8Array.from(atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4)), (c) => c.charCodeAt(0));
}

export function base32(bytes) {
  let bits = 0;
  let value = 0;
  let text = "";
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      text += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) text += BASE32[(value << (5 - bits)) & 31];
  return text;
}

export function fromBase32(text) {
  const clean = text.toUpperCase().replace(/[\s-]/g, "");
  if (clean.length !== 32 || /[^A-Z2-7]/.test(clean)) {
    throw new PasskeyError("A recovery key is 32 letters and digits (2 to 7). Check it and try again.");
  }
  const bytes = [];
  let bits = 0;
  let value = 0;
  for (const c of clean) {
    value = (value << 5) | BASE32.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Uint8Array.from(bytes);
}

function grouped(text) {
  return text.match(/.{1,4}/g).join("-");
}

function startsWith(bytes, prefix) {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}

// ---------------------------------------------------------------- wrapping

async function wrappingKey(material, salt, usage) {
  const base = await subtle.importKey("raw", material, "HKDF", false, ["deriveKey"]);
  return subtle.deriveKey({ name: "HKDF", hash: "SHA-256", salt, info: WRAP_INFO }, base,
    { name: "AES-GCM", length: 256 }, false, [usage]);
}

export async function wrap(secret, material, contactId) {
  const salt = crypto.getRandomValues(new Uint8Array(32));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = await wrappingKey(material, salt, "encrypt");
  const sealed = await subtle.encrypt({ name: "AES-GCM", iv, additionalData: utf8.encode(contactId) }, key, secret);
  return { version: 1, salt: b64url(salt), iv: b64url(iv), ciphertext: b64url(sealed) };
}

export async function unwrap(wrapped, material, contactId) {
  const key = await wrappingKey(material, fromB64url(wrapped.salt), "decrypt");
  const params = { name: "AES-GCM", iv: fromB64url(wrapped.iv), additionalData: utf8.encode(contactId) };
  return new Uint8Array(await subtle.decrypt(params, key, fromB64url(wrapped.ciphertext)));
}

export async function recoveryLookup(recoveryKey) {
  const base = await subtle.importKey("raw", recoveryKey, "HKDF", false, ["deriveBits"]);
  const params = { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(32), info: LOOKUP_INFO };
  return b64url(await subtle.deriveBits(params, base, 256));
}

// The key wrapped under a recovery key, and the lookup that finds it (schemas RecoveryWrap).
async function recoveryWrap(secret, recovery, contactId) {
  return { lookup: await recoveryLookup(recovery), wrapped_key: await wrap(secret, recovery, contactId) };
}

// The secret bytes of a key file (an X25519 PKCS#8 PEM, or a hybrid key file), and the key.
async function secretOfKeyFile(bytes) {
  let secret;
  if (startsWith(bytes, HYBRID_FILE_TAG)) {
    secret = bytes.slice(HYBRID_FILE_TAG.length);
  } else {
    const found = /-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\s]+)-----END PRIVATE KEY-----/.exec(new TextDecoder().decode(bytes));
    const der = found ? Uint8Array.from(atob(found[1].replace(/\s+/g, "")), (c) => c.charCodeAt(0)) : new Uint8Array();
    secret = der.length === 48 && startsWith(der, X25519_PKCS8_PREFIX) ? der.slice(16) : null;
  }
  if (!secret || ![32, 96].includes(secret.length)) {
    throw new PasskeyError("That file is not a private key this page can use.");
  }
  await importRecipientKey(bytes); // the same checks the notice page makes
  return secret;
}

function importSecret(secret) {
  return secret.length === 96 ? importHybridSecret(secret) : importX25519Secret(secret);
}

// ---------------------------------------------------------------- WebAuthn

function withPrf(extensions) {
  const first = extensions?.prf?.eval?.first;
  return first ? { prf: { eval: { first: fromB64url(first) } } } : {};
}

function creationOptions(json) {
  return {
    ...json,
    challenge: fromB64url(json.challenge),
    user: { ...json.user, id: fromB64url(json.user.id) },
    excludeCredentials: (json.excludeCredentials ?? []).map((c) => ({ ...c, id: fromB64url(c.id) })),
    extensions: withPrf(json.extensions),
  };
}

function requestOptions(json) {
  return {
    ...json,
    challenge: fromB64url(json.challenge),
    allowCredentials: (json.allowCredentials ?? []).map((c) => ({ ...c, id: fromB64url(c.id) })),
    extensions: withPrf(json.extensions),
  };
}

// The credential's JSON form without its extension results (the PRF's output stays here).
function registrationJson(credential) {
  const r = credential.response;
  return {
    id: credential.id,
    rawId: b64url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment ?? undefined,
    response: {
      clientDataJSON: b64url(r.clientDataJSON),
      attestationObject: b64url(r.attestationObject),
      transports: r.getTransports ? r.getTransports() : [],
    },
    clientExtensionResults: {},
  };
}

function assertionJson(credential) {
  const r = credential.response;
  return {
    id: credential.id,
    rawId: b64url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment ?? undefined,
    response: {
      clientDataJSON: b64url(r.clientDataJSON),
      authenticatorData: b64url(r.authenticatorData),
      signature: b64url(r.signature),
      userHandle: r.userHandle ? b64url(r.userHandle) : undefined,
    },
    clientExtensionResults: {},
  };
}

const NO_PRF = "This passkey cannot protect your organisation's key (it does not support the PRF extension). Use another passkey, such as this device's own or a recent security key.";

// The PRF output of a new passkey: given at creation by some authenticators, otherwise
// evaluated with a local assertion (its challenge checked by nobody: it signs nothing in).
async function prfOfNew(credential, options, kind) {
  const result = credential.getClientExtensionResults().prf;
  if (result?.results?.first) return new Uint8Array(result.results.first);
  if (!result?.enabled) throw new PasskeyError(NO_PRF);
  const assertion = await ceremony(kind, () => navigator.credentials.get({ publicKey: {
    challenge: crypto.getRandomValues(new Uint8Array(32)),
    rpId: options.rp.id,
    allowCredentials: [{ type: "public-key", id: credential.rawId }],
    userVerification: "required",
    extensions: options.extensions,
  } }));
  return prfOf(assertion);
}

function prfOf(assertion) {
  const first = assertion.getClientExtensionResults().prf?.results?.first;
  if (!first) throw new PasskeyError(NO_PRF);
  return new Uint8Array(first);
}

async function postJson(url, body, csrfToken) {
  const headers = { "content-type": "application/json" };
  if (csrfToken) headers["x-csrf-token"] = csrfToken;
  const response = await fetch(url, { method: "POST", credentials: "same-origin", headers, body: JSON.stringify(body ?? {}) });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new PasskeyError(answer.error ?? "This could not be done. Try again.");
  return answer;
}

// ---------------------------------------------------------------- the pages

async function enrol(page) {
  const file = document.getElementById("enrol-key-file").files[0];
  if (!file) throw new PasskeyError("Choose your organisation's private key file first.");
  const secret = await secretOfKeyFile(new Uint8Array(await file.arrayBuffer()));
  const key = await importSecret(secret);
  if (key.keyId !== page.dataset.keyId) {
    throw new PasskeyError("That key file is not your organisation's current key. Ask your administrator for the right one.");
  }
  say("Follow your device's instructions to create the passkey...");
  const csrf = page.dataset.csrfToken;
  const { publicKey } = await postJson("/inbox/passkeys/registration/options", {}, csrf);
  const options = creationOptions(publicKey);
  const credential = await ceremony("registration", () => navigator.credentials.create({ publicKey: options }));
  const prf = await prfOfNew(credential, options, "registration");
  const recovery = crypto.getRandomValues(new Uint8Array(RECOVERY_BYTES));
  const contactId = page.dataset.contactId;
  await postJson("/inbox/passkeys/registration", {
    challenge: publicKey.challenge,
    credential: registrationJson(credential),
    wrapped_key: await wrap(secret, prf, contactId),
    recovery: await recoveryWrap(secret, recovery, contactId),
  }, csrf);
  await keepKey(key);
  document.getElementById("enrol-key-file").value = "";
  document.getElementById("enrol-key-group").hidden = true;
  document.getElementById("enrol-start").remove(); // a GOV.UK button shows whatever "hidden" says
  document.getElementById("recovery-key").textContent = grouped(base32(recovery));
  document.getElementById("recovery-shown").hidden = false;
  say("Your passkey is set up.");
}

async function signIn() {
  say("Follow your device's instructions to use your passkey...");
  const { publicKey } = await postJson("/inbox/passkeys/authentication/options", {});
  const assertion = await ceremony("authentication", () => navigator.credentials.get({ publicKey: requestOptions(publicKey) }));
  const prf = prfOf(assertion);
  const done = await postJson("/inbox/passkeys/authentication", { challenge: publicKey.challenge, credential: assertionJson(assertion) });
  let secret;
  try {
    secret = await unwrap(done.wrapped_key, prf, done.contact_id);
  } catch {
    throw new PasskeyError("You are signed in, but this passkey could not unlock your organisation's key: notices cannot be opened. Use your recovery key.");
  }
  await keepKey(await importSecret(secret));
  // A passkey added since this one was last used is shown first, even before a notice.
  location.assign(done.check_passkeys ? done.next : (returnTo() ?? done.next));
}

// Back to the notice an alert's link asked for; only a notice's own page (as the server
// offers it), so that no link can send a person elsewhere once signed in.
function returnTo() {
  const next = new URLSearchParams(location.search).get("next");
  return next && /^\/inbox\/notices\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(next) ? next : null;
}

// keepOthers: a second device, beside the person's other passkeys (else in their place).
async function recover(keepOthers) {
  const recovery = fromBase32(document.getElementById("recovery-key-input").value);
  const found = await postJson("/inbox/passkeys/recovery/options", { lookup: await recoveryLookup(recovery), keep_others: keepOthers });
  let secret;
  try {
    secret = await unwrap(found.wrapped_key, recovery, found.contact_id);
  } catch {
    throw new PasskeyError("That recovery key does not unlock your organisation's key.");
  }
  const key = await importSecret(secret);
  say("Follow your device's instructions to create the new passkey...");
  const options = creationOptions(found.publicKey);
  const credential = await ceremony("recovery", () => navigator.credentials.create({ publicKey: options }));
  const prf = await prfOfNew(credential, options, "recovery");
  // Replacing: a new recovery key, as at enrolment; the one just used stops working.
  const renewed = keepOthers ? null : crypto.getRandomValues(new Uint8Array(RECOVERY_BYTES));
  const done = await postJson("/inbox/passkeys/recovery", {
    challenge: found.publicKey.challenge,
    credential: registrationJson(credential),
    wrapped_key: await wrap(secret, prf, found.contact_id),
    keep_others: keepOthers,
    used: await recoveryLookup(recovery), // set up only while this key is still theirs
    ...(renewed && { recovery: await recoveryWrap(secret, renewed, found.contact_id) }),
  });
  if (!renewed) {
    await keepKey(key);
    location.assign(done.next);
    return;
  }
  // The new key first: the old one no longer works, whatever happens next in this browser.
  document.getElementById("recovery-key-input").value = "";
  document.getElementById("recovery-form").hidden = true;
  document.getElementById("recovery-key").textContent = grouped(base32(renewed));
  document.getElementById("recovery-done").href = done.next;
  document.getElementById("recovery-shown").hidden = false;
  document.getElementById("recovery-shown-heading").focus();
  try {
    await keepKey(key);
    say("Your passkey is set up, and you have a new recovery key.");
  } catch {
    say("Your passkey is set up, and you have a new recovery key. This browser could not keep your organisation's key: sign in with your passkey to open notices.");
  }
}

function onClick(buttonId, page, work) {
  const button = document.getElementById(buttonId);
  // Every button of the page waits for the ceremony (the recovery page has two).
  const buttons = [...page.querySelectorAll("button")];
  button.addEventListener("click", async () => {
    for (const each of buttons) each.disabled = true;
    try {
      await work();
    } catch (error) {
      // Our own wording; a failed ceremony reported, and the broker's advice shown; anything
      // else named by kind only.
      if (error instanceof CeremonyFailed) say(await report(error, page.dataset.csrfToken));
      else say(error instanceof PasskeyError ? error.message : `This did not work (${error.name ?? "error"}). Try again.`);
    } finally {
      for (const each of buttons) each.disabled = false;
    }
  });
}

const enrolPage = document.getElementById("passkey-enrol");
if (enrolPage) onClick("enrol-start", enrolPage, () => enrol(enrolPage));
const signInPage = document.getElementById("passkey-sign-in");
if (signInPage) onClick("sign-in-start", signInPage, signIn);
const recoveryPage = document.getElementById("passkey-recovery");
if (recoveryPage) {
  onClick("recovery-start", recoveryPage, () => recover(false));
  onClick("recovery-add", recoveryPage, () => recover(true));
}
