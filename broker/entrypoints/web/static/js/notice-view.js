// The notice's body in plain words for its reader (a school's key adult, a GP's safeguarding
// lead): sentences from the wording catalogue (wording.json, written by
// `python -m broker.rules.wording`), people by name, dates in London time words. Welsh first
// then English where the body's languages say so; a key without Welsh is shown in English
// (no Welsh is machine-made). Internal fields stay in the collapsed "Technical details".
// Everything goes in with textContent only.

const LONDON = "Europe/London";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function words(name) {
  const text = String(name).replaceAll("_", " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function locale(lang) {
  return lang === "cy" ? "cy-GB" : "en-GB";
}

export function momentWords(iso, lang = "en") {
  const options = { timeZone: LONDON, weekday: "long", day: "numeric", month: "long",
                    year: "numeric", hour: "2-digit", minute: "2-digit" };
  // As the server writes London times ("Monday 30 November 2026 at 08:45"): no comma.
  return new Intl.DateTimeFormat(locale(lang), options).format(new Date(iso)).replace(",", "");
}

export function dayWords(isoDate, lang = "en") {
  // A date without a time (a birthday, a review date): read as that calendar day.
  const options = { timeZone: "UTC", day: "numeric", month: "long", year: "numeric" };
  return new Intl.DateTimeFormat(locale(lang), options).format(new Date(`${isoDate}T00:00:00Z`));
}

// The texts of a key, in the body's languages (Welsh first), each with its language.
function texts(catalogue, languages, key, when) {
  const out = [];
  for (const lang of languages) {
    const text = catalogue[lang]?.[key];
    if (text) out.push({ lang, text: text.replace("{when}", when ? when(lang) : "") });
  }
  if (!out.length) {
    // A key this page cannot word yet: said so, not dropped; the key is in Technical details.
    out.push({ lang: "en", text: "An instruction this page cannot put in words yet: see Technical details." });
  }
  return out;
}

function sentences(parent, catalogue, languages, key, when) {
  for (const { lang, text } of texts(catalogue, languages, key, when)) {
    const p = el("p", "govuk-body", text);
    p.lang = lang;
    parent.append(p);
  }
}

function section(view, title) {
  view.append(el("h3", "govuk-heading-s", title));
}

function bullets(view, items) {
  const list = el("ul", "govuk-list govuk-list--bullet");
  for (const item of items) {
    const li = el("li");
    if (typeof item === "string") li.textContent = item;
    else li.append(...item);
    list.append(li);
  }
  view.append(list);
}

const ROLES = { child: "child", parent_or_carer: "parent or carer" };

export function personWords(person) {
  const parts = [[person.given_name, person.family_name].filter(Boolean).join(" ") || "Name not shared"];
  if (person.date_of_birth) parts.push(`born ${dayWords(person.date_of_birth)}`);
  if (person.role) parts.push(ROLES[person.role] ?? words(person.role));
  if (person.present === true) parts.push("present at the incident");
  if (person.preferred_language) {
    const names = new Intl.DisplayNames(["en"], { type: "language" });
    parts.push(`prefers ${names.of(person.preferred_language) ?? person.preferred_language}`);
  }
  if (person.interpreter_needed === true) parts.push("needs an interpreter");
  return parts.join(", ");
}

function contactWords(contact) {
  if (!contact) return null;
  const who = [contact.name, contact.role, contact.organisation, contact.phone, contact.email];
  return who.filter(Boolean).join(", ") || null;
}

function planWords(plan) {
  const parts = [words(plan.kind)];
  if (plan.category) parts.push(`category: ${words(plan.category).toLowerCase()}`);
  if (plan.started_on) parts.push(`from ${dayWords(plan.started_on)}`);
  if (plan.ended_on) parts.push(`to ${dayWords(plan.ended_on)}`);
  else if (plan.open) parts.push("still open");
  if (plan.child) parts.push(`for ${personWords(plan.child)}`);
  const lead = typeof plan.lead_professional === "string" ? plan.lead_professional
    : contactWords(plan.lead_professional);
  if (lead) parts.push(`led by ${lead}`);
  return parts.join(", ");
}

const ISO_MOMENT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;
const ISO_DAY = /^\d{4}-\d{2}-\d{2}$/;

function valueWords(value) {
  if (typeof value === "boolean") return value ? "Yes" : "No";
  if (typeof value === "string" && ISO_MOMENT.test(value)) return momentWords(value);
  if (typeof value === "string" && ISO_DAY.test(value)) return dayWords(value);
  return String(value);
}

function historySection(view, body) {
  const items = [];
  const digest = body.digest;
  if (digest) {
    const count = digest.earlier_incidents_12_months ?? 0;
    const earlier = count === 0 ? "No earlier incidents" : count === 1 ? "1 earlier incident" : `${count} earlier incidents`;
    items.push(`${earlier} known in the last 12 months`);
    for (const plan of digest.plans ?? []) items.push(`Plan: ${planWords(plan)}`);
    if (digest.agencies?.length) items.push(`Services involved: ${digest.agencies.map(words).join(", ")}`);
    if (digest.previous_areas?.length) items.push(`Lived before in: ${digest.previous_areas.join(", ")}`);
  }
  for (const plan of body.history?.plans ?? []) items.push(`Plan: ${planWords(plan)}`);
  if (body.history?.previous_areas?.length) items.push(`Lived before in: ${body.history.previous_areas.join(", ")}`);
  for (const plan of body.school?.open_plans ?? []) {
    const lead = contactWords(plan.lead_professional);
    items.push(`An open ${words(plan.kind).toLowerCase()}${lead ? `: contact ${lead}` : ""}`
      + (plan.previous_school ? `; previous school: ${plan.previous_school}` : ""));
  }
  const step = body.step_down;
  if (step) {
    items.push(`Step-down ${step.from_level ? `from ${words(step.from_level).toLowerCase()} ` : ""}to ${words(step.to_level).toLowerCase()}`);
    if (step.your_role) items.push(`Your part: ${words(step.your_role).toLowerCase()}`);
    const lead = contactWords(step.lead_professional);
    if (lead) items.push(`Lead professional: ${lead}`);
    for (const owner of step.action_owners ?? []) {
      items.push(`${contactWords(owner) ?? "An action owner"}${owner.action ? `: ${owner.action}` : ""}`);
    }
    if (step.if_concerns_return) items.push(`If concerns return: ${step.if_concerns_return}`);
    if (step.review_by) items.push(`Review by ${dayWords(step.review_by)}`);
  }
  if (!items.length) return;
  section(view, "History and plans");
  bullets(view, items);
}

function otherDetails(view, body) {
  const entries = [...Object.entries(body.facts ?? {}), ...Object.entries(body.detail ?? {})]
    .filter(([, value]) => value !== null && value !== undefined && value !== "");
  if (!entries.length) return;
  section(view, "Other details");
  const list = el("dl", "govuk-summary-list");
  for (const [name, value] of entries) {
    const row = el("div", "govuk-summary-list__row");
    row.append(el("dt", "govuk-summary-list__key", words(name)),
               el("dd", "govuk-summary-list__value", valueWords(value)));
    list.append(row);
  }
  view.append(list);
}

// The main view: what a person needs, in the order they act on it.
export function render(view, body, catalogue) {
  view.replaceChildren();
  const languages = (body.languages?.length ? body.languages : ["en"]);
  const school = body.school;
  const keys = body.wording ?? [];
  view.append(el("p", "govuk-body-l", body.summary));

  section(view, "Who it is about");
  for (const key of keys.filter((k) => k.startsWith("relation."))) sentences(view, catalogue, languages, key);
  if (body.about?.length) bullets(view, body.about.map(personWords));

  section(view, "What happened");
  if (school) sentences(view, catalogue, languages, `school.matter.${school.matter}`);
  const at = school?.happened_at ?? body.occurred_at;
  if (at) view.append(el("p", "govuk-body", `When: ${momentWords(at)} (London time)`));
  if (school?.stopped_on) view.append(el("p", "govuk-body", `Stopped on ${dayWords(school.stopped_on)}`));

  // A move's terms are the receiving nation's vocabulary, not an instruction.
  const terms = keys.filter((k) => k.startsWith("transfer.terms."));
  if (terms.length) {
    section(view, "Terms used for this move");
    for (const key of terms) sentences(view, catalogue, languages, key);
  }

  const todo = [...(school?.actions ?? []),
                ...keys.filter((k) => !k.startsWith("relation.") && !terms.includes(k))];
  if (todo.length) {
    section(view, "What to do");
    bullets(view, todo.map((key) => {
      const parts = [];
      sentences({ append: (p) => parts.push(p) }, catalogue, languages, key);
      return parts;
    }));
  }

  if (school?.act_by) {
    section(view, "By when");
    sentences(view, catalogue, languages, school.act_by_wording, (lang) => momentWords(school.act_by, lang));
  }

  if (school?.who_to_call_role || body.who_to_call) {
    section(view, "Who to call");
    if (school?.who_to_call_role) sentences(view, catalogue, languages, school.who_to_call_role);
    if (body.who_to_call) view.append(el("p", "govuk-body", body.who_to_call));
  }

  if (school?.reference || school?.police_reference) {
    section(view, "Reference to quote");
    if (school.reference) view.append(el("p", "govuk-body", `Quote this reference when you call: ${school.reference}`));
    if (school.police_reference) view.append(el("p", "govuk-body", `Police reference: ${school.police_reference}`));
  }

  historySection(view, body);
  otherDetails(view, body);
}
