package httpapi

import (
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/authsvc/authsvc/pkg/domain"
)

// The auth endpoints. Handlers decode, call one use
// case of deps.Auth and encode; every rule lives in the use case.

type messageResponse struct {
	Message string `json:"message"`
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
}

func newTokenResponse(t *domain.AccessToken) tokenResponse {
	return tokenResponse{AccessToken: t.Token, TokenType: "bearer"}
}

type registerRequest struct {
	Username string `json:"username"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

type registerResponse struct {
	Message  string `json:"message"`
	Username string `json:"username"`
	tokenResponse
}

func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	var req registerRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	u, tok, err := s.deps.Auth.Register(r.Context(), domain.Registration{
		Username: req.Username, Email: req.Email, Password: req.Password})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, registerResponse{Message: "User registered successfully",
		Username: u.Username, tokenResponse: newTokenResponse(tok)})
}

// loginRequest is the OAuth2 password form, also accepted as JSON.
type loginRequest struct {
	Username     string `json:"username"`
	Password     string `json:"password"`
	GrantType    string `json:"grant_type"`
	Scope        string `json:"scope"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// decodeLogin reads the OAuth2 password form (urlencoded or multipart) or a
// JSON body. grant_type, when given, must be "password".
func decodeLogin(w http.ResponseWriter, r *http.Request) (loginRequest, error) {
	var req loginRequest
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mediaType {
	case "application/x-www-form-urlencoded", "multipart/form-data":
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		var err error
		if mediaType == "multipart/form-data" {
			err = r.ParseMultipartForm(maxBodyBytes) //nolint:gosec // the body is cut at maxBodyBytes by MaxBytesReader above
		} else {
			err = r.ParseForm()
		}
		if err != nil {
			var maxErr *http.MaxBytesError
			if errors.As(err, &maxErr) {
				return req, tooLarge()
			}
			return req, domain.ValidationError(domain.FieldError{Loc: []string{"body"},
				Msg: domain.MsgInvalidForm, Type: domain.TypeValueError})
		}
		req.Username, req.Password = r.PostFormValue("username"), r.PostFormValue("password")
		req.GrantType = r.PostFormValue("grant_type")
	default:
		if err := decodeJSON(w, r, &req); err != nil {
			return req, err
		}
	}
	if req.GrantType != "" && req.GrantType != "password" {
		return req, domain.ValidationError(domain.FieldError{Loc: []string{"body", "grant_type"},
			Msg: `grant_type must be "password"`, Type: "string_pattern_mismatch"})
	}
	return req, nil
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	req, err := decodeLogin(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tok, err := s.deps.Auth.Login(r.Context(), req.Username, req.Password)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeLogin(w, tok)
}

type profileResponse struct {
	Username      string `json:"username"`
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	var userID int64
	if raw := r.URL.Query().Get("user_id"); raw != "" || r.URL.Query().Has("user_id") {
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || id < 1 {
			s.writeError(w, r, domain.ValidationError(domain.FieldError{Loc: []string{"query", "user_id"},
				Msg: domain.MsgPositiveInteger, Type: domain.TypeIntParsing}))
			return
		}
		userID = id
	}
	u, err := s.deps.Auth.Me(r.Context(), p, userID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, profileResponse{Username: u.Username, Email: u.Email, EmailVerified: u.EmailVerified()})
}

func (s *Server) passwordResetRequest(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Email string `json:"email"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.deps.Auth.RequestPasswordReset(r.Context(), req.Email); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, messageResponse{"Password reset link sent to email if account exists"})
}

func (s *Server) verifyEmail(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Token string `json:"token"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, err := s.deps.Auth.VerifyEmail(r.Context(), req.Token); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, messageResponse{domain.MsgEmailVerified})
}

func (s *Server) resendVerification(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Email string `json:"email"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.deps.Auth.ResendVerification(r.Context(), req.Email); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, messageResponse{domain.MsgVerificationSent})
}

func (s *Server) resetPassword(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Token       string `json:"token"`
		NewPassword string `json:"new_password"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.deps.Auth.ResetPassword(r.Context(), req.Token, req.NewPassword); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, messageResponse{"Password has been reset successfully"})
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	var req struct {
		CurrentPassword string `json:"current_password"`
		NewPassword     string `json:"new_password"`
		Code            string `json:"code"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	err := s.deps.Auth.ChangePassword(r.Context(), p, domain.PasswordChange{
		Username: r.PathValue("username"), CurrentPassword: req.CurrentPassword, NewPassword: req.NewPassword,
		Code: req.Code})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, messageResponse{"Password updated successfully"})
}

type emailChangedResponse struct {
	Message  string `json:"message"`
	Username string `json:"username"`
	Email    string `json:"email"`
}

func (s *Server) changeEmail(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	var req struct {
		NewEmail        string `json:"new_email"`
		CurrentPassword string `json:"current_password"`
		Code            string `json:"code"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.deps.Auth.ChangeEmail(r.Context(), p, domain.EmailChange{
		Username: r.PathValue("username"), NewEmail: req.NewEmail, CurrentPassword: req.CurrentPassword,
		Code: req.Code})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	msg := domain.MsgEmailUpdated
	if !strings.EqualFold(u.Email, req.NewEmail) { // auth.require_verified_email: waiting for the link
		msg = domain.MsgEmailChangePending
	}
	writeJSON(w, http.StatusOK, emailChangedResponse{Message: msg, Username: u.Username, Email: u.Email})
}

// deleteUser takes the password from ?password= (the original's way, never
// logged) or from a JSON body {"password": ...}.
func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	q := r.URL.Query()
	password, code := q.Get("password"), q.Get("code")
	switch {
	case q.Has("password"):
	case r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody:
		var req struct {
			Password string `json:"password"`
			Code     string `json:"code"`
		}
		if err := decodeJSON(w, r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		password, code = req.Password, req.Code
	default:
		s.writeError(w, r, domain.ValidationError(domain.FieldError{Loc: []string{"query", "password"},
			Msg: domain.MsgFieldRequired, Type: domain.TypeMissing}))
		return
	}
	if err := s.deps.Auth.DeleteAccount(r.Context(), p, r.PathValue("username"), password, code); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, messageResponse{"User deleted successfully"})
}

func (s *Server) refresh(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Token string `json:"token"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	tok, err := s.deps.Auth.Refresh(r.Context(), req.Token)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newTokenResponse(tok))
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	if err := s.deps.Auth.Logout(r.Context(), p, r.URL.Query().Get("scope")); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, messageResponse{"Successfully logged out"})
}

type userDetailsResponse struct {
	Username      string `json:"username"`
	Email         string `json:"email"`
	ID            int64  `json:"id"`
	IsAdmin       bool   `json:"is_admin"`
	EmailVerified bool   `json:"email_verified"`
}

func (s *Server) userDetails(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	u, err := s.deps.Auth.UserDetails(r.Context(), p, r.PathValue("username"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, userDetailsResponse{Username: u.Username, Email: u.Email, ID: u.ID, IsAdmin: u.IsAdmin,
		EmailVerified: u.EmailVerified()})
}
