// Live count: polls the tiny count endpoint. The page is complete without this script (it
// says "as of <time>"); with it, the count and that time follow the counter.
(function () {
  "use strict";
  var el = document.getElementById("signature-count");
  if (!el || !window.fetch) return;
  var url = el.getAttribute("data-count-url");
  var verified = document.getElementById("verified-count");
  var asOf = document.getElementById("count-time");
  var delay = 5000;
  function grouped(n) { return n.toLocaleString("en-GB"); }
  function poll() {
    if (document.hidden) { setTimeout(poll, delay); return; }
    fetch(url, { credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data && typeof data.signature_count === "number") {
          el.textContent = grouped(data.signature_count);
          if (verified && typeof data.verified_count === "number") {
            verified.textContent = grouped(data.verified_count);
          }
          if (asOf) {
            var now = new Date();
            asOf.setAttribute("datetime", now.toISOString());
            asOf.textContent = now.toISOString().slice(0, 16).replace("T", ", ") + " UTC";
          }
        }
      })
      .catch(function () {})
      .then(function () { setTimeout(poll, delay); });
  }
  setTimeout(poll, delay);
})();
