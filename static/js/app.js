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
  // Select all / none in a list of ticks, and the count of those ticked
  // (the links work without this, by reloading the page ticked).
  document.addEventListener("click", function (ev) {
    var a = ev.target && ev.target.closest ? ev.target.closest("[data-select]") : null;
    if (!a) { return; }
    var group = a.closest("[data-select-group]");
    var form = a.closest("form");
    if (!group || !form) { return; }
    ev.preventDefault();
    var on = a.dataset.select === "all";
    form.querySelectorAll('input[type=checkbox][name="' + group.dataset.selectGroup + '"]')
      .forEach(function (b) { b.checked = on; });
    countTicks(form);
  });
  function countTicks(form) {
    form.querySelectorAll("[data-count]").forEach(function (out) {
      out.textContent = form.querySelectorAll(
        'input[type=checkbox][name="' + out.dataset.count + '"]:checked').length;
    });
  }
  document.addEventListener("change", function (ev) {
    var form = ev.target && ev.target.form;
    if (form && ev.target.type === "checkbox") { countTicks(form); }
  });
  // On a phone tables read as lists: each value carries its column's
  // heading (pages may set data-label themselves).
  document.querySelectorAll("table.list").forEach(function (table) {
    var heads = Array.prototype.map.call(table.querySelectorAll("thead th"),
      function (th) { return th.textContent.trim(); });
    if (!heads.length) { return; }
    table.querySelectorAll("tbody tr").forEach(function (tr) {
      Array.prototype.forEach.call(tr.children, function (td, i) {
        if (!td.hasAttribute("data-label") && heads[i]) { td.setAttribute("data-label", heads[i]); }
      });
    });
  });
})();
