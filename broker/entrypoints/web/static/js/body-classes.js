// GOV.UK Frontend's progressive enhancement: components style themselves for JavaScript only
// once these classes are on <body>. A file, not inline, so the pages' CSP allows no inline script.
document.body.className += " js-enabled" + ("noModule" in HTMLScriptElement.prototype ? " govuk-frontend-supported" : "");
