// Small progressive touches; every page works without this file.
(function () {
  "use strict";
  // Ask before destructive actions (buttons marked .danger).
  document.addEventListener("submit", function (ev) {
    var btn = ev.submitter;
    if (btn && btn.classList.contains("danger") && btn.dataset.confirm !== "no") {
      var msg = document.documentElement.lang === "en" ? "Are you sure?" : "确定要这样做吗？";
      if (!window.confirm(msg)) { ev.preventDefault(); }
    }
  });
  // A second click on a submit button while the form is on its way does nothing.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (form.dataset.submitting === "1") { ev.preventDefault(); return; }
    form.dataset.submitting = "1";
    setTimeout(function () { form.dataset.submitting = ""; }, 5000);
  });
  // Print buttons (receipts, end of day, certificates, count sheets, ...):
  // one listener, so one print dialog per click. No inline script: the CSP
  // forbids it.
  document.addEventListener("click", function (ev) {
    var t = ev.target && ev.target.closest ? ev.target.closest("[data-print]") : null;
    if (t) { ev.preventDefault(); window.print(); }
  });
  // A look-up that found nothing selects what was typed, so the next scan
  // replaces it instead of being appended to it.
  var again = document.querySelector("[data-select-on-load]");
  if (again) { again.focus(); again.select(); }
})();
