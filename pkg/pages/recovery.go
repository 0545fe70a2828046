package pages

import (
	"errors"
	"net/http"
	"strings"

	"github.com/authsvc/authsvc/pkg/domain"
)

// userMessage is what a page shows for a refused form: the message of each
// bad field (safe to show by design), or the error's own.
func userMessage(err error) string {
	var e *domain.Error
	if !errors.As(err, &e) {
		return domain.MsgPagesFailed
	}
	if len(e.Fields) > 0 {
		msgs := make([]string, 0, len(e.Fields))
		for _, f := range e.Fields {
			msgs = append(msgs, f.Msg)
		}
		return strings.Join(msgs, " ")
	}
	return e.Message
}

// formError re-renders page with the message of a client's mistake, or the
// failure page for anything else.
func (p *Pages) formError(w http.ResponseWriter, page string, v view, err error) {
	switch domain.ErrorCode(err) {
	case domain.EVALIDATION, domain.EINVALID, domain.ECONFLICT:
		v.Error = userMessage(err)
		p.render(w, http.StatusUnprocessableEntity, page, v)
	case domain.ERATELIMIT:
		v.Error = domain.MsgPagesRateLimited
		p.render(w, http.StatusTooManyRequests, page, v)
	default:
		p.deps.Logger.Error().Err(err).Str("page", page).Msg("page form failed")
		v.Error = domain.MsgPagesFailed
		p.render(w, http.StatusServiceUnavailable, page, v)
	}
}

// signupPage shows the sign-up form (oidc.allow_sign_up).
func (p *Pages) signupPage(w http.ResponseWriter, r *http.Request) {
	if !p.deps.AllowSignUp {
		http.NotFound(w, r)
		return
	}
	p.render(w, http.StatusOK, "signup.html", view{CSRF: csrfToken(w, r), Request: r.URL.Query().Get("request")})
}

// signup creates an account through the same use case as POST
// /auth/register and signs the browser in, or, when a verified email is
// required first, says so.
func (p *Pages) signup(w http.ResponseWriter, r *http.Request) {
	if !p.deps.AllowSignUp {
		http.NotFound(w, r)
		return
	}
	v, ok := p.form(w, r)
	if !ok {
		return
	}
	v.Username, v.Email = r.PostFormValue("username"), r.PostFormValue("email")
	_, tok, err := p.deps.Auth.Register(r.Context(), domain.Registration{Username: v.Username, Email: v.Email,
		Password: r.PostFormValue("password")})
	if err != nil {
		p.formError(w, "signup.html", v, err)
		return
	}
	if tok == nil {
		p.notice(w, "Check your email", domain.MsgPagesVerifyFirst, v.Request)
		return
	}
	p.finish(w, r, v, tok)
}

// forgotPage asks for the account's email.
func (p *Pages) forgotPage(w http.ResponseWriter, r *http.Request) {
	p.render(w, http.StatusOK, "forgot.html", view{CSRF: csrfToken(w, r), Request: r.URL.Query().Get("request")})
}

// forgot queues a reset link (the same use case as POST
// /auth/password-reset/request): the answer is the same whether or not an
// account has the address.
func (p *Pages) forgot(w http.ResponseWriter, r *http.Request) {
	v, ok := p.form(w, r)
	if !ok {
		return
	}
	v.Email = r.PostFormValue("email")
	if err := p.deps.Auth.RequestPasswordReset(r.Context(), v.Email); err != nil {
		p.formError(w, "forgot.html", v, err)
		return
	}
	p.notice(w, "Check your email", domain.MsgPagesResetSent, v.Request)
}

// resetPage is where the reset mail's link lands (mail.frontend_url set to
// authsvc's own URL): a form for the new password.
func (p *Pages) resetPage(w http.ResponseWriter, r *http.Request) {
	p.render(w, http.StatusOK, "reset.html", view{CSRF: csrfToken(w, r), Token: r.URL.Query().Get("token")})
}

// reset sets the new password with the link's token.
func (p *Pages) reset(w http.ResponseWriter, r *http.Request) {
	v, ok := p.form(w, r)
	if !ok {
		return
	}
	v.Token = r.PostFormValue("token")
	if err := p.deps.Auth.ResetPassword(r.Context(), v.Token, r.PostFormValue("new_password")); err != nil {
		p.formError(w, "reset.html", v, err)
		return
	}
	p.notice(w, "Password changed", domain.MsgPagesPasswordReset, "")
}

// verifyEmail is where the verification mail's link lands.
func (p *Pages) verifyEmail(w http.ResponseWriter, r *http.Request) {
	if _, err := p.deps.Auth.VerifyEmail(r.Context(), r.URL.Query().Get("token")); err != nil {
		switch domain.ErrorCode(err) {
		case domain.EINVALID, domain.EVALIDATION:
			p.render(w, http.StatusBadRequest, "error.html", view{Error: userMessage(err)})
		default:
			p.deps.Logger.Error().Err(err).Msg("email verification page failed")
			p.render(w, http.StatusServiceUnavailable, "error.html", view{Error: domain.MsgPagesFailed})
		}
		return
	}
	p.notice(w, "Email verified", domain.MsgPagesEmailVerified, "")
}

// notice shows a message with a way back to sign in (to the pending
// request, if any).
func (p *Pages) notice(w http.ResponseWriter, title, msg, request string) {
	p.render(w, http.StatusOK, "notice.html", view{Title: title, Notice: msg, Request: request})
}
