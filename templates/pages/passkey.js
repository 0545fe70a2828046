// authsvc's passkey buttons: sign in with a passkey (and offer passkeys in
// the username field's autofill where the browser can), use one as the
// second step after the password, create an account with one instead of a
// password, add one on the account page. Served from authsvc itself; the pages' CSP allows no other
// script.
"use strict";
(function () {
  const csrf = document.querySelector("[data-csrf]")?.dataset.csrf || "";
  const status = document.getElementById("passkey-status");
  const say = (msg) => { if (status) { status.textContent = msg; status.hidden = !msg; } };
  const post = async (url, body) => {
    const r = await fetch(url, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf}, body: JSON.stringify(body)});
    const data = await r.json().catch(() => ({}));
    if (!r.ok) { throw new Error(data.error || data.detail || "The passkey could not be used."); }
    return data;
  };
  if (!window.PublicKeyCredential || !PublicKeyCredential.parseRequestOptionsFromJSON) {
    document.querySelectorAll(".passkey").forEach((el) => { el.hidden = true; });
    return;
  }

  const signin = document.getElementById("passkey-signin");
  if (signin) {
    const request = signin.dataset.request || "";
    let pending = null;
    let answered = false; // a passkey answered: its sign-in is under way, start no other
    const finish = async (mediation) => {
      if (answered) { return; }
      if (pending) { pending.abort(); }
      const mine = new AbortController();
      pending = mine;
      const begun = await post("/auth/passkeys/login/begin", {});
      const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(begun.publicKey);
      const cred = await navigator.credentials.get({publicKey, mediation, signal: mine.signal});
      if (answered || pending !== mine) { return; }
      answered = true;
      try {
        const done = await post("/signin/passkey", {credential: cred.toJSON(), request});
        window.location.assign(done.next);
      } catch (e) {
        answered = false;
        throw e;
      }
    };
    signin.hidden = false;
    signin.addEventListener("click", () => {
      say("");
      finish("optional").catch((e) => { if (e.name !== "AbortError") { say(e.message); } });
    });
    if (PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then((ok) => {
        if (ok) { finish("conditional").catch(() => {}); }
      });
    }
  }

  const mfa = document.getElementById("passkey-mfa");
  if (mfa) {
    mfa.hidden = false;
    mfa.addEventListener("click", async () => {
      say("");
      try {
        const mfaToken = mfa.dataset.mfaToken || "";
        const begun = await post("/auth/mfa/webauthn/begin", {mfa_token: mfaToken});
        const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(begun.publicKey);
        const cred = await navigator.credentials.get({publicKey});
        const done = await post("/signin/mfa/passkey", {credential: cred.toJSON(), mfa_token: mfaToken,
          request: mfa.dataset.request || ""});
        window.location.assign(done.next);
      } catch (e) {
        if (e.name !== "AbortError") { say(e.message); }
      }
    });
  }

  const signup = document.getElementById("passkey-signup");
  if (signup) {
    signup.hidden = false;
    signup.addEventListener("click", async () => {
      say("");
      const username = document.getElementById("username")?.value || "";
      const email = document.getElementById("email")?.value || "";
      try {
        const begun = await post("/signup/passkey/begin", {username, email});
        const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(begun.publicKey);
        const cred = await navigator.credentials.create({publicKey});
        const done = await post("/signup/passkey", {credential: cred.toJSON(), request: signup.dataset.request || ""});
        window.location.assign(done.next);
      } catch (e) {
        if (e.name !== "AbortError") { say(e.message); }
      }
    });
  }

  const add = document.getElementById("passkey-add");
  if (add) {
    add.hidden = false;
    add.addEventListener("click", async () => {
      say("");
      try {
        const begun = await post("/account/passkeys/begin", {});
        const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(begun.publicKey);
        const cred = await navigator.credentials.create({publicKey});
        const name = document.getElementById("passkey-name")?.value || "Passkey";
        const done = await post("/account/passkeys/finish", {credential: cred.toJSON(), name});
        window.location.assign(done.next);
      } catch (e) {
        say(e.message);
      }
    });
  }
})();
