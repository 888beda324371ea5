// The notice page: opens the sealed notice embedded in the page, in this browser, with
// notice-crypto.js (the broker's signature checked, then HPKE), and shows the body in plain
// words (notice-view.js, with the wording catalogue wording.json); the raw fields stay in the
// collapsed "Technical details" for the safeguarding lead. The server never sees the key or the plaintext. The key is the one a
// passkey unwrapped at sign-in (passkey.js, kept by key-keeper.js); without one, the person
// chooses their key file; it is read here and sent nowhere. Fields go in with textContent only.

import { render, words } from "./notice-view.js";

const container = document.getElementById("notice-body");
const status = document.getElementById("notice-status");
const keyField = document.getElementById("notice-key");
const sealed = JSON.parse(document.getElementById("sealed-notice").textContent);
const brokerKeys = JSON.parse(document.getElementById("broker-keys").textContent);

function say(text) {
  status.textContent = text;
}

async function keptKey() {
  try {
    return await (await import("./key-keeper.js")).keptKey();
  } catch {
    return null;
  }
}

async function cryptoModule() {
  try {
    return await import("./notice-crypto.js");
  } catch {
    return null;
  }
}

function valueText(value) {
  if (value === null || value === undefined || value === "") return "Not given";
  if (Array.isArray(value)) return value.map(valueText).join("; ");
  if (typeof value === "object") {
    return Object.entries(value).map(([k, v]) => `${words(k)}: ${valueText(v)}`).join(", ");
  }
  if (typeof value === "boolean") return value ? "Yes" : "No";
  return String(value);
}

async function wordingCatalogue() {
  // Without it the page still shows the notice: each instruction says it cannot be worded.
  try {
    const response = await fetch(new URL("./wording.json", import.meta.url), { credentials: "same-origin" });
    return response.ok ? await response.json() : {};
  } catch {
    return {};
  }
}

async function show(body) {
  const view = document.getElementById("notice-fields");
  render(view, body, await wordingCatalogue());
  view.hidden = false;
  const list = document.getElementById("notice-raw");
  list.replaceChildren();
  for (const [name, value] of Object.entries(body)) {
    const row = document.createElement("div");
    row.className = "govuk-summary-list__row";
    const key = document.createElement("dt");
    key.className = "govuk-summary-list__key";
    key.textContent = words(name);
    const text = document.createElement("dd");
    text.className = "govuk-summary-list__value";
    text.textContent = valueText(value);
    row.append(key, text);
    list.append(row);
  }
  document.getElementById("notice-technical").hidden = false;
}

async function markViewed() {
  // A person has seen it: the viewed receipt (the page's CSRF token, as every form's).
  await fetch(`/inbox/notices/${container.dataset.noticeId}/viewed`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "x-csrf-token": container.dataset.csrfToken },
  });
}

async function open(crypto, key) {
  say("Opening...");
  try {
    await show(await crypto.openNotice(sealed, key, brokerKeys));
    keyField.hidden = true;
    say("Opened in this browser.");
    await markViewed();
  } catch (error) {
    say(`This notice could not be opened with that key (${error.code ?? "error"}).`);
  }
}

async function keyFromFile(crypto, file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const text = new TextDecoder().decode(bytes);
  return crypto.importRecipientKey(text.startsWith("-----BEGIN") ? text : bytes);
}

async function main() {
  const crypto = await cryptoModule();
  if (!crypto) {
    say("This page cannot open the notice: the part of this service that opens notices in your browser is missing. The notice is kept safe, encrypted; tell your administrator.");
    return;
  }
  // The key a passkey unwrapped at sign-in (key-keeper.js), or one a test gives.
  const kept = globalThis.sgbRecipientKey ?? (await keptKey());
  if (kept) {
    await open(crypto, kept);
    return;
  }
  say("This browser does not hold your organisation's key yet. To open the notice, choose your key file.");
  keyField.hidden = false;
  document.getElementById("notice-key-file").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    try {
      await open(crypto, await keyFromFile(crypto, file));
    } catch (error) {
      say(`That file is not a key this page can use (${error.code ?? "error"}).`);
    }
  });
}

main();
