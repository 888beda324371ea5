// Keeps the contact's private key in this browser between pages, once a passkey (or the
// recovery key) has unwrapped it: as a non-extractable WebCrypto key in IndexedDB, so that
// no script, this site's own included, can read its bytes back out. It goes when the person
// signs out, and from any page shown to nobody signed in (a session that ended, say).

const DATABASE = "sgb-inbox-keys";
const STORE = "keys";
const ENTRY = "contact";

function opened() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DATABASE, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function inStore(mode, work) {
  const database = await opened();
  try {
    return await new Promise((resolve, reject) => {
      const request = work(database.transaction(STORE, mode).objectStore(STORE));
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  } finally {
    database.close();
  }
}

// A key as notice-crypto.js imports it (importX25519Secret, importHybridSecret).
export async function keepKey(key) {
  await inStore("readwrite", (store) => store.put(key, ENTRY));
}

export async function keptKey() {
  try {
    return (await inStore("readonly", (store) => store.get(ENTRY))) ?? null;
  } catch {
    return null;
  }
}

export function forgetKey() {
  return new Promise((resolve) => {
    const request = indexedDB.deleteDatabase(DATABASE);
    request.onsuccess = request.onerror = request.onblocked = () => resolve();
  });
}

// Pages for a signed-in person have the menu; any other page holds no key.
if (!document.getElementById("navigation")) {
  forgetKey();
}
for (const form of document.querySelectorAll('form[action="/inbox/sign-out"]')) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await forgetKey();
    form.submit(); // does not fire "submit" again
  });
}
