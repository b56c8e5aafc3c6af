// Live count: polls the tiny count endpoint. The page is complete without this script.
(function () {
  "use strict";
  var el = document.getElementById("signature-count");
  if (!el || !window.fetch) return;
  var url = el.getAttribute("data-count-url");
  var delay = 5000;
  function poll() {
    if (document.hidden) { setTimeout(poll, delay); return; }
    fetch(url, { credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data && typeof data.signature_count === "number") {
          el.textContent = String(data.signature_count);
        }
      })
      .catch(function () {})
      .then(function () { setTimeout(poll, delay); });
  }
  setTimeout(poll, delay);
})();
