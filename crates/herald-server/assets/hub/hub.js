// The Hub's one script. Pages work without it; it adds two things:
// - live regions: every element with data-live is refreshed from the same page every
//   2 seconds (short polling; the server renders, the script only swaps the region in);
// - copy buttons: data-copy="ID" copies the text of element ID.
"use strict";

(function () {
  var LIVE_EVERY_MS = 2000;

  function refresh() {
    var regions = document.querySelectorAll("[data-live]");
    if (regions.length === 0 || document.hidden) {
      return;
    }
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Hub-Live": "1" } })
      .then(function (response) {
        if (!response.ok || response.redirected) {
          return null;
        }
        return response.text();
      })
      .then(function (text) {
        if (text === null) {
          return;
        }
        var fresh = new DOMParser().parseFromString(text, "text/html");
        regions.forEach(function (region) {
          var name = region.getAttribute("data-live");
          var next = fresh.querySelector('[data-live="' + name + '"]');
          if (next && next.innerHTML !== region.innerHTML) {
            region.innerHTML = next.innerHTML;
          }
        });
      })
      .catch(function () {
        // The server is away for a moment: the next tick tries again.
      });
  }

  function copyButtons() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var source = document.getElementById(button.getAttribute("data-copy"));
        if (!source || !navigator.clipboard) {
          return;
        }
        navigator.clipboard.writeText(source.textContent.trim()).then(function () {
          button.textContent = "Copied";
        });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    copyButtons();
    if (document.querySelector("[data-live]")) {
      window.setInterval(refresh, LIVE_EVERY_MS);
    }
  });
})();
