// Puts the module where the tests can call it, then says it is ready.
import * as noticeCrypto from "/static/js/notice-crypto.js";

window.noticeCrypto = noticeCrypto;

// Opens one vector from /vectors.json with a key the test hands over (keys never cross the
// wire); shows the body in the page, as the inbox will, and returns it or the error's code.
window.openVector = async (name, keys) => {
  const doc = await (await fetch("/vectors.json")).json();
  const vector = doc.vectors.find((v) => v.name === name);
  const key =
    vector.key === "hybrid"
      ? await noticeCrypto.importRecipientKey(Uint8Array.from(atob(keys.hybrid), (c) => c.charCodeAt(0)))
      : await noticeCrypto.importRecipientKey(keys.classic);
  try {
    const body = await noticeCrypto.openNotice(JSON.stringify(vector.sealed), key, doc.broker_public);
    document.getElementById("notice").textContent = JSON.stringify(body, null, 1);
    return { body };
  } catch (error) {
    return { error: error.code ?? String(error), name: error.name, message: error.message };
  }
};
document.documentElement.dataset.ready = "yes";
