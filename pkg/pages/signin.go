package pages

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
)

// signinPage shows the sign-in form, or, for a browser already signed in,
// goes on at once: to the pending request (silent single sign-on) or to the
// account page.
func (p *Pages) signinPage(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("request")
	v := view{CSRF: csrfToken(w, r), Request: id}
	if id == "" {
		if p.browser(w, r) != nil {
			http.Redirect(w, r, "/account", http.StatusSeeOther)
			return
		}
		p.render(w, http.StatusOK, "signin.html", v)
		return
	}
	ar, ok := p.request(w, r, id)
	if !ok {
		return
	}
	v.Username = ar.LoginHint
	if pr := p.browser(w, r); pr != nil && !slices.Contains(ar.Prompt, "login") && fresh(ar, pr, p.deps.Clock()) {
		p.proceed(w, r, ar, pr.Claims, v)
		return
	}
	if slices.Contains(ar.Prompt, "none") {
		p.fail(w, r, id, "login_required", "the user is not signed in")
		return
	}
	p.render(w, http.StatusOK, "signin.html", v)
}

// fresh reports whether the session's authentication satisfies the
// request's max_age.
func fresh(ar *domain.OIDCAuthRequest, pr *domain.Principal, now time.Time) bool {
	return ar.MaxAge == nil || now.Sub(pr.Claims.AuthTime) <= *ar.MaxAge
}

// signin checks the username and password through the one login path of
// /auth/login, then asks for the second factor or signs the browser in.
func (p *Pages) signin(w http.ResponseWriter, r *http.Request) {
	v, ok := p.form(w, r)
	if !ok {
		return
	}
	v.Username = r.PostFormValue("username")
	tok, err := p.deps.Auth.LoginIdentifier(r.Context(), v.Username, r.PostFormValue("password"))
	if err != nil {
		p.refused(w, r, "signin.html", v, err, domain.MsgPagesBadCredentials)
		return
	}
	if tok.MFA != nil {
		v.MFAToken, v.MFAPasskey = tok.MFA.Token, slices.Contains(tok.MFA.Methods, domain.MethodWebAuthn)
		p.render(w, http.StatusOK, "mfa.html", v)
		return
	}
	p.finish(w, r, v, tok)
}

// signinMFA completes a sign-in with a TOTP code or a recovery code.
func (p *Pages) signinMFA(w http.ResponseWriter, r *http.Request) {
	v, ok := p.form(w, r)
	if !ok {
		return
	}
	v.MFAToken, v.MFAPasskey = r.PostFormValue("mfa_token"), r.PostFormValue("webauthn") == "1"
	code, recovery := r.PostFormValue("code"), ""
	if !isDigits(code) {
		code, recovery = "", code
	}
	tok, err := p.deps.Auth.Challenge(r.Context(), v.MFAToken, code, recovery)
	if err != nil {
		if domain.ErrorCode(err) == domain.EUNAUTHORIZED && domain.ErrorReason(err) == domain.ErrInvalidMFAToken.Reason {
			v.MFAToken = "" // expired or used up: start again
			p.refused(w, r, "signin.html", v, err, domain.MsgPagesBadForm)
			return
		}
		p.refused(w, r, "mfa.html", v, err, domain.MsgPagesBadCode)
		return
	}
	p.finish(w, r, v, tok)
}

// finish sets the session cookie and goes on to the request or the
// account page.
func (p *Pages) finish(w http.ResponseWriter, r *http.Request, v view, tok *domain.AccessToken) {
	signedIn(w, r, tok)
	if v.Request == "" {
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return
	}
	ar, ok := p.request(w, r, v.Request)
	if !ok {
		return
	}
	p.proceed(w, r, ar, tok.Claims, v)
}

// refused re-renders page with the client's message for err (msg for a
// wrong credential), and the status the JSON API would answer.
func (p *Pages) refused(w http.ResponseWriter, r *http.Request, page string, v view, err error, msg string) {
	status := http.StatusUnauthorized
	switch domain.ErrorCode(err) {
	case domain.EUNAUTHORIZED:
		v.Error = msg
	case domain.ERATELIMIT:
		status, v.Error = http.StatusTooManyRequests, domain.MsgPagesRateLimited
	case domain.EFORBIDDEN:
		status, v.Error = http.StatusForbidden, domain.MsgPagesUnverified
	case domain.EINVALID:
		status, v.Error = http.StatusUnprocessableEntity, msg
	default:
		p.deps.Logger.Error().Err(err).Msg("sign-in page failed")
		status, v.Error = http.StatusServiceUnavailable, domain.MsgPagesFailed
	}
	p.render(w, status, page, v)
}

// form parses a posted form and checks its CSRF token and the per-IP
// limit; on refusal it has answered.
func (p *Pages) form(w http.ResponseWriter, r *http.Request) (view, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil || !csrfOK(r) {
		p.render(w, http.StatusForbidden, "error.html", view{Error: domain.MsgPagesBadForm})
		return view{}, false
	}
	v := view{CSRF: cookieValue(r, csrfCookie), Request: r.PostFormValue("request")}
	if p.overLimit(w, r) {
		v.Error = domain.MsgPagesRateLimited
		p.render(w, http.StatusTooManyRequests, "signin.html", v)
		return view{}, false
	}
	return v, true
}

// overLimit counts a post against the client IP's limit; over it, it sets
// Retry-After and the caller answers 429.
func (p *Pages) overLimit(w http.ResponseWriter, r *http.Request) bool {
	if p.deps.Limit == nil {
		return false
	}
	ok, retry := p.deps.Limit(r.Context(), p.deps.ClientIP(r))
	if !ok {
		w.Header().Set("Retry-After", retryAfter(retry))
	}
	return !ok
}

func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(int((d+time.Second-1)/time.Second), 1))
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
