// Live updates for the inbox page (broker/entrypoints/web/live.py): the server's stream says
// only that a notice arrived, with its id; the page then fetches itself again and swaps in
// its list region. The stream carries no content, and nothing of a notice is read here.
// A status line (role="status") tells screen readers and sighted people alike.

const region = document.getElementById("inbox-notices");
const status = document.getElementById("live-status");

function say(text) {
  if (status) {
    status.textContent = text;
  }
}

// One refresh at a time: notices arriving together are shown by one fetch.
let refreshing = null;
let again = false;

async function refresh() {
  const answer = await fetch(window.location.href, {
    credentials: "same-origin",
    headers: { accept: "text/html" },
  });
  if (!answer.ok) {
    say("A new notice has arrived: reload the page to see it.");
    return;
  }
  const page = new DOMParser().parseFromString(await answer.text(), "text/html");
  const fresh = page.getElementById("inbox-notices");
  if (fresh) {
    region.replaceChildren(...fresh.childNodes);
  }
  say("A new notice has arrived.");
}

function refreshSoon() {
  if (refreshing) {
    again = true;
    return;
  }
  refreshing = refresh().finally(() => {
    refreshing = null;
    if (again) {
      again = false;
      refreshSoon();
    }
  });
}

if (region && "EventSource" in window) {
  const source = new EventSource("/inbox/live");
  source.addEventListener("notice", refreshSoon);
  source.addEventListener("ended", () => {
    source.close();
    say("Your session has ended: new notices are no longer shown here. Sign in again.");
  });
}
