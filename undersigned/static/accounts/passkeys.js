// Passkeys (WebAuthn): the browser's half of the ceremonies in accounts/passkeys.py. Without
// JavaScript (or WebAuthn) the buttons stay hidden and the authenticator app does the job.
(function () {
  "use strict";
  if (!window.PublicKeyCredential || !PublicKeyCredential.parseCreationOptionsFromJSON) return;
  var URLS = {
    register: ["/accounts/two-factor/passkey/options", "/accounts/two-factor/passkey/"],
    login: ["/accounts/passkeys/login/options", "/accounts/passkeys/login/"],
    verify: ["/accounts/passkeys/login/options", "/accounts/passkeys/login/"],
  };
  var next = new URLSearchParams(location.search).get("next") || "";

  function post(box, url, body) {
    var token = box.querySelector("input[name=csrfmiddlewaretoken]").value;
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token },
      body: JSON.stringify(body || {}),
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) throw new Error(data.error || "The passkey was not accepted.");
        return data;
      });
    });
  }

  function showCodes(codes) {
    var main = document.querySelector("main") || document.body;
    main.innerHTML = "";
    var h1 = document.createElement("h1");
    h1.textContent = "Your recovery codes";
    var p = document.createElement("p");
    p.textContent = "Passkey added. Keep these codes somewhere safe: each works once in place " +
      "of your second factor, and this is the only time they are shown.";
    var list = document.createElement("ul");
    list.id = "recovery-codes";
    codes.forEach(function (code) {
      var li = document.createElement("li");
      var c = document.createElement("code");
      c.textContent = code;
      li.appendChild(c);
      list.appendChild(li);
    });
    var link = document.createElement("a");
    link.className = "button";
    link.href = next.charAt(0) === "/" && next.charAt(1) !== "/" ? next : "/organize/";
    link.textContent = "I have kept them";
    main.append(h1, p, list, link);
  }

  document.querySelectorAll(".passkey").forEach(function (box) {
    var mode = box.dataset.mode, status = box.querySelector(".passkey-status");
    box.hidden = false;
    box.querySelector("button").addEventListener("click", function () {
      status.textContent = "Waiting for your passkey…";
      post(box, URLS[mode][0]).then(function (options) {
        if (mode === "register") {
          return navigator.credentials.create({
            publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options),
          });
        }
        return navigator.credentials.get({
          publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options),
        });
      }).then(function (credential) {
        return post(box, URLS[mode][1], { credential: credential.toJSON(), next: next });
      }).then(function (data) {
        if (mode === "register") {
          if (data.codes && data.codes.length) return showCodes(data.codes);
          location.href = "/accounts/";
          return;
        }
        location.href = data.next;
      }).catch(function (error) {
        status.textContent = error.message || "The passkey was not accepted.";
      });
    });
  });
})();
