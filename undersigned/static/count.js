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
  var months = ["January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December"];
  function grouped(n) { return n.toLocaleString("en-GB"); }
  function two(n) { return (n < 10 ? "0" : "") + n; }
  // As the server writes it: "3 December 2026, 10:45 UTC".
  function stamp(d) {
    return d.getUTCDate() + " " + months[d.getUTCMonth()] + " " + d.getUTCFullYear() + ", " +
      two(d.getUTCHours()) + ":" + two(d.getUTCMinutes()) + " UTC";
  }
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
            asOf.textContent = stamp(now);
          }
        }
      })
      .catch(function () {})
      .then(function () { setTimeout(poll, delay); });
  }
  setTimeout(poll, delay);
})();
