// Small progressive touches; every page works without this file.
(function () {
  "use strict";
  // Ask before destructive actions (buttons marked .danger) and before
  // those that carry their own question (data-confirm="...").
  document.addEventListener("submit", function (ev) {
    var btn = ev.submitter;
    if (!btn || btn.dataset.confirm === "no") { return; }
    if (btn.classList.contains("danger") || btn.dataset.confirm) {
      var msg = btn.dataset.confirm ||
        (document.documentElement.lang === "en" ? "Are you sure?" : "确定要这样做吗？");
      if (!window.confirm(msg)) { ev.preventDefault(); }
    }
  });
  // A second click on a submit button while the form is on its way does nothing.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (ev.defaultPrevented) { return; }  // a question answered "no"
    if (form.dataset.submitting === "1") { ev.preventDefault(); return; }
    form.dataset.submitting = "1";
    setTimeout(function () { form.dataset.submitting = ""; }, 5000);
  });
  // Print buttons (receipts, end of day, certificates, count sheets, ...):
  // one listener, so one print dialog per click. No inline script: the CSP
  // forbids it.
  // The one caller of the print dialog.
  function printPage() { window.print(); }
  document.addEventListener("click", function (ev) {
    var t = ev.target && ev.target.closest ? ev.target.closest("[data-print]") : null;
    if (t) { ev.preventDefault(); printPage(); }
  });
  // A thermal receipt (58 mm or 80 mm roll) prints as long as its content:
  // its page is sized to the receipt just before printing (a constructed
  // sheet, which the CSP allows). Without this the printer's roll decides.
  window.addEventListener("beforeprint", function () {
    var r = document.querySelector(".receipt[data-paper='58'], .receipt[data-paper='80']");
    if (!r || !("adoptedStyleSheets" in document)) { return; }
    var w = r.dataset.paper;
    var mm = Math.ceil(r.getBoundingClientRect().height * 25.4 / 96) + 6;
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync("@page receipt" + w + " { size: " + w + "mm " + mm + "mm; margin: 0; }");
      document.adoptedStyleSheets = [sheet];
    } catch (e) { /* an old browser: the printer's roll decides */ }
  });
  // A receipt at a store that prints by itself prints once as it opens; the
  // address loses its ?print=1 so a reload does not print it again.
  var auto = document.querySelector("[data-print-on-load]");
  if (auto) {
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", window.location.pathname);
    }
    printPage();
  }
  // One key each for what a clerk does all day (shown beside each button):
  // an element marked data-key="F8" is clicked by F8, wherever the focus is.
  document.addEventListener("keydown", function (ev) {
    if (ev.altKey || ev.ctrlKey || ev.metaKey || ev.shiftKey || !/^F\d+$/.test(ev.key)) { return; }
    var el = document.querySelector("[data-key='" + ev.key + "']");
    if (!el) { return; }
    ev.preventDefault();
    el.click();
    // A list opened by its key takes the focus, so arrows and Tab move in it.
    var box = el.tagName === "SUMMARY" ? el.parentElement : null;
    if (box && box.open) {
      var first = box.querySelector("button, a, input");
      if (first) { first.focus(); }
    }
  });
  // Enter in a basket line's quantity box applies a changed quantity and
  // never confirms: unchanged, it would reach the server as Enter on an
  // empty entry (which confirms), so it does nothing here.
  document.addEventListener("keydown", function (ev) {
    var box = ev.target;
    if (ev.key !== "Enter" || !box.classList || !box.classList.contains("line-qty")) { return; }
    if (box.value === box.defaultValue) { ev.preventDefault(); }
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
