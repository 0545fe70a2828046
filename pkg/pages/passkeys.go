package pages

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/authsvc/authsvc/pkg/domain"
)

// The passkey part of the pages: /pages/passkey.js (the one script the pages
// serve, no inline code) calls navigator.credentials and these JSON
// endpoints. They are same-origin only (Fetch metadata, checked for every
// unsafe request) and carry the form token in X-CSRF-Token.

type passkeyPost struct {
	Credential json.RawMessage `json:"credential"`
	Request    string          `json:"request"`
	Name       string          `json:"name"`
	MFAToken   string          `json:"mfa_token"`
	Username   string          `json:"username"`
	Email      string          `json:"email"`
}

type passkeyAnswer struct {
	Next  string `json:"next,omitempty"`
	Error string `json:"error,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// passkeyBody checks the form token and the per-IP limit and reads the
// JSON body; on refusal it has answered.
func (p *Pages) passkeyBody(w http.ResponseWriter, r *http.Request) (*passkeyPost, bool) {
	if p.deps.Passkeys == nil {
		writeJSON(w, http.StatusNotFound, passkeyAnswer{Error: domain.MsgPasskeysOff})
		return nil, false
	}
	if !csrfMatches(r, r.Header.Get("X-CSRF-Token")) {
		writeJSON(w, http.StatusForbidden, passkeyAnswer{Error: domain.MsgPagesBadForm})
		return nil, false
	}
	if p.overLimit(w, r) {
		writeJSON(w, http.StatusTooManyRequests, passkeyAnswer{Error: domain.MsgPagesRateLimited})
		return nil, false
	}
	var body passkeyPost
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, passkeyAnswer{Error: domain.MsgPagesBadForm})
		return nil, false
	}
	return &body, true
}

// passkeyError answers a refused ceremony with the message a person can act on.
func (p *Pages) passkeyError(w http.ResponseWriter, err error) {
	status := http.StatusUnauthorized
	switch domain.ErrorCode(err) {
	case domain.EUNAUTHORIZED, domain.ENOTFOUND, domain.EINVALID, domain.EVALIDATION, domain.ECONFLICT:
	case domain.ERATELIMIT:
		status = http.StatusTooManyRequests
	case domain.EFORBIDDEN:
		status = http.StatusForbidden
	default:
		p.deps.Logger.Error().Err(err).Msg("passkey page failed")
		writeJSON(w, http.StatusServiceUnavailable, passkeyAnswer{Error: domain.MsgPagesFailed})
		return
	}
	writeJSON(w, status, passkeyAnswer{Error: userMessage(err)})
}

// signinPasskey finishes a passkey sign-in begun with POST
// /auth/passkeys/login/begin, signs the browser in and says where to go:
// back to the pending request (which goes on as single sign-on) or to the
// account page.
func (p *Pages) signinPasskey(w http.ResponseWriter, r *http.Request) {
	body, ok := p.passkeyBody(w, r)
	if !ok {
		return
	}
	tok, err := p.deps.Passkeys.FinishLogin(r.Context(), body.Credential)
	if err != nil {
		p.passkeyError(w, err)
		return
	}
	signedIn(w, r, tok)
	writeJSON(w, http.StatusOK, passkeyAnswer{Next: nextAfterSignIn(body.Request)})
}

// signinMFAPasskey finishes the second step of a password sign-in with a
// passkey (begun with POST /auth/mfa/webauthn/begin and the login's
// mfa_token) and signs the browser in.
func (p *Pages) signinMFAPasskey(w http.ResponseWriter, r *http.Request) {
	body, ok := p.passkeyBody(w, r)
	if !ok {
		return
	}
	tok, err := p.deps.Passkeys.FinishMFA(r.Context(), body.MFAToken, body.Credential)
	if err != nil {
		p.passkeyError(w, err)
		return
	}
	signedIn(w, r, tok)
	writeJSON(w, http.StatusOK, passkeyAnswer{Next: nextAfterSignIn(body.Request)})
}

// signupPasskeyBegin starts a sign-up with a passkey instead of a password
// (oidc.allow_sign_up): the creation options for the form's username and
// email.
func (p *Pages) signupPasskeyBegin(w http.ResponseWriter, r *http.Request) {
	if !p.deps.AllowSignUp {
		writeJSON(w, http.StatusNotFound, passkeyAnswer{Error: domain.MsgNotFound})
		return
	}
	body, ok := p.passkeyBody(w, r)
	if !ok {
		return
	}
	opts, err := p.deps.Passkeys.BeginSignUp(r.Context(), body.Username, body.Email)
	if err != nil {
		p.passkeyError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, opts)
}

// signupPasskey creates the passkey-only account with the authenticator's
// answer and signs the browser in.
func (p *Pages) signupPasskey(w http.ResponseWriter, r *http.Request) {
	if !p.deps.AllowSignUp {
		writeJSON(w, http.StatusNotFound, passkeyAnswer{Error: domain.MsgNotFound})
		return
	}
	body, ok := p.passkeyBody(w, r)
	if !ok {
		return
	}
	_, tok, err := p.deps.Passkeys.FinishSignUp(r.Context(), body.Name, body.Credential)
	if err != nil {
		p.passkeyError(w, err)
		return
	}
	signedIn(w, r, tok)
	writeJSON(w, http.StatusOK, passkeyAnswer{Next: nextAfterSignIn(body.Request)})
}

func nextAfterSignIn(request string) string {
	if request == "" {
		return "/account"
	}
	return signinURL(request)
}

// addPasskeyBegin starts adding a passkey to the signed-in browser's account
// (a sign-in within the last five minutes).
func (p *Pages) addPasskeyBegin(w http.ResponseWriter, r *http.Request) {
	if _, ok := p.passkeyBody(w, r); !ok {
		return
	}
	pr := p.browser(w, r)
	if pr == nil {
		writeJSON(w, http.StatusUnauthorized, passkeyAnswer{Error: domain.MsgNotAuthenticated})
		return
	}
	opts, err := p.deps.Passkeys.BeginRegistration(r.Context(), pr, "")
	if domain.ErrorCode(err) == domain.EVALIDATION { // the password is asked: the sign-in is not recent
		writeJSON(w, http.StatusUnauthorized, passkeyAnswer{Error: domain.MsgPagesSignInAgain})
		return
	}
	if err != nil {
		p.passkeyError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, opts)
}

// addPasskeyFinish stores the new passkey.
func (p *Pages) addPasskeyFinish(w http.ResponseWriter, r *http.Request) {
	body, ok := p.passkeyBody(w, r)
	if !ok {
		return
	}
	pr := p.browser(w, r)
	if pr == nil {
		writeJSON(w, http.StatusUnauthorized, passkeyAnswer{Error: domain.MsgNotAuthenticated})
		return
	}
	if _, err := p.deps.Passkeys.FinishRegistration(r.Context(), pr, body.Name, body.Credential); err != nil {
		p.passkeyError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, passkeyAnswer{Next: "/account"})
}
