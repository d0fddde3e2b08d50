// fleetwarden dashboard: small progressive enhancements; every page works without this.
// No inline handlers anywhere (the Content-Security-Policy forbids inline script).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Forms marked data-confirm ask before they post (retire, mark rogue, revoke ...).
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
  // Selects marked data-autosubmit apply a filter as soon as they change.
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.requestSubmit());
  }
});
