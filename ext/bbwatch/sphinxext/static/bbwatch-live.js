/* bbwatch live pages: reload when newer data is published, keep "last checked" and ages true.
   Reads bbwatch-version.json (written by every site build and by `bbwatch serve` after each
   poll). Pages work without it: they show their data time and ages as of their build. */
(function () {
  "use strict";
  var stamp = document.querySelector(".bbwatch-data-version");
  if (!stamp || !window.fetch) { return; }
  var mine = (stamp.className.match(/bbwatch-version-([0-9a-f]+|none)/) || [])[1];
  var root = document.documentElement.getAttribute("data-content_root") || "";
  var url = root + "bbwatch-version.json";
  var units = [["day", 86400], ["hour", 3600], ["minute", 60]];
  function describe(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    for (var i = 0; i < units.length; i++) {
      if (seconds >= units[i][1]) {
        var n = Math.floor(seconds / units[i][1]);
        return n + " " + units[i][0] + (n !== 1 ? "s" : "");
      }
    }
    return "less than a minute";
  }
  function utc(epoch) {
    return new Date(epoch * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }
  function apply(info) {
    var checked = Number(info.checked_at) || 0;
    if (!checked) { return; }
    document.querySelectorAll(".bbwatch-checked-at").forEach(function (el) {
      el.textContent = utc(checked);
    });
    document.querySelectorAll(".bbwatch-checked-answer").forEach(function (el) {
      el.textContent = info.reachable ? " (it answered)" : " (it did not answer)";
    });
    document.querySelectorAll(".bbwatch-age").forEach(function (el) {
      var m = el.className.match(/bbwatch-t-(\d+)/);
      if (!m) { return; }
      var suffix = el.classList.contains("bbwatch-age-ago") ? " ago"
        : el.classList.contains("bbwatch-age-old") ? " old" : "";
      el.textContent = describe(checked - Number(m[1])) + suffix;
    });
  }
  function poll() {
    fetch(url, { cache: "no-store" }).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (info) {
      if (!info) { return; }
      if (info.version && mine && info.version !== mine) {
        window.location.reload();
        return;
      }
      apply(info);
    }).catch(function () { /* no version file (a copied site): keep the page as built */ });
  }
  poll();
  window.setInterval(poll, 5000);
}());
