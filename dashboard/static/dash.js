// flatsweep dashboard: keeps the parts of a page marked data-live current.
// Every data-refresh milliseconds it fetches the page it is on again and
// swaps in each data-live element (matched by id) whose content changed;
// images inside them reload when their URL's version changes. Nothing else:
// the pages are rendered by the coordinator and work without this script.
(function () {
  "use strict";
  var every = Number(document.body.getAttribute("data-refresh")) || 2000;
  var status = document.getElementById("live-status");
  var busy = false;

  function say(text) {
    if (status) status.textContent = text;
  }

  function tick() {
    if (busy || document.hidden) return;
    busy = true;
    fetch(location.href, { cache: "no-store", credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var parts = document.querySelectorAll("[data-live]");
        for (var i = 0; i < parts.length; i++) {
          var fresh = doc.getElementById(parts[i].id);
          if (fresh && fresh.innerHTML !== parts[i].innerHTML) parts[i].innerHTML = fresh.innerHTML;
        }
        say("live · updated " + new Date().toLocaleTimeString());
      })
      .catch(function (e) {
        say("offline (" + e.message + "): retrying");
      })
      .then(function () {
        busy = false;
      });
  }

  say("live");
  setInterval(tick, every);
})();
