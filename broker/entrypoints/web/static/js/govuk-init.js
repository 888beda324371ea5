// Starts GOV.UK Frontend's components (skip link, error summary focus, buttons' double-click
// guard, notification banner focus) on every page.
import { initAll } from "/inbox/static/govuk/govuk-frontend.min.js";

initAll();
