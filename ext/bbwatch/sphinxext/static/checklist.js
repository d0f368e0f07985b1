/* bbwatch triage checklists: remember ticked steps per page in localStorage; "reset" clears.
 * Keys: "bbwatch-checklist:" + page path + "#" + checklist id -> JSON list of ticked step ids.
 * Nothing from the page is written back into the DOM except the checkboxes' checked state. */
(function () {
  "use strict";
  function storage() {
    try {
      var probe = "bbwatch-probe";
      window.localStorage.setItem(probe, probe);
      window.localStorage.removeItem(probe);
      return window.localStorage;
    } catch (e) {
      return null; // private mode or file:// without storage: checkboxes still work, unsaved
    }
  }
  function keyOf(list) {
    return "bbwatch-checklist:" + window.location.pathname + "#" + list.id;
  }
  function boxes(list) {
    return list.querySelectorAll("input.bbwatch-checklist-box");
  }
  function load(store, list) {
    var ticked = [];
    try {
      ticked = JSON.parse(store.getItem(keyOf(list)) || "[]");
    } catch (e) {
      ticked = [];
    }
    if (!Array.isArray(ticked)) ticked = [];
    boxes(list).forEach(function (box) {
      box.checked = ticked.indexOf(box.getAttribute("data-step")) !== -1;
    });
  }
  function save(store, list) {
    var ticked = [];
    boxes(list).forEach(function (box) {
      if (box.checked) ticked.push(box.getAttribute("data-step"));
    });
    if (ticked.length) store.setItem(keyOf(list), JSON.stringify(ticked));
    else store.removeItem(keyOf(list));
  }
  function init() {
    var store = storage();
    document.querySelectorAll(".bbwatch-checklist").forEach(function (list) {
      if (store && list.id) load(store, list);
      boxes(list).forEach(function (box) {
        box.addEventListener("change", function () {
          var item = box.closest("li");
          if (item) item.classList.toggle("bbwatch-done", box.checked);
          if (store && list.id) save(store, list);
        });
        var item = box.closest("li");
        if (item) item.classList.toggle("bbwatch-done", box.checked);
      });
      var reset = list.querySelector(".bbwatch-checklist-reset");
      if (reset) {
        reset.addEventListener("click", function () {
          boxes(list).forEach(function (box) {
            box.checked = false;
            var item = box.closest("li");
            if (item) item.classList.remove("bbwatch-done");
          });
          if (store && list.id) store.removeItem(keyOf(list));
        });
      }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();

  // Per-failure pages: the printed sheets' header (triage_print.py) gets the date of printing
  // instead of the date the page was built. Every unusual character is CSS-escaped.
  function cssString(text) {
    return '"' + Array.from(text).map(function (c) {
      return /[A-Za-z0-9 .,:#_-]/.test(c) ? c : "\\" + c.codePointAt(0).toString(16) + " ";
    }).join("") + '"';
  }
  window.addEventListener("beforeprint", function () {
    var style = document.querySelector("style.bbwatch-print-header");
    if (!style) return;
    var d = new Date(), pad = function (n) { return (n < 10 ? "0" : "") + n; };
    var date = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
    var text = style.getAttribute("data-header") + " \u00b7 printed " + date;
    style.textContent = "@media print { @page { @top-left { content: " + cssString(text) +
      "; font-size: 8pt; } } }";
  });
})();
