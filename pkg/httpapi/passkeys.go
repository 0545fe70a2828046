package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/authsvc/authsvc/pkg/domain"
)

// The passkey endpoints (/auth/passkeys/...): 404 passkeys_disabled unless
// webauthn.enabled.

type passkeyBeginRegistration struct {
	Password string `json:"password"`
}

type passkeyFinish struct {
	Name       string          `json:"name"`
	Credential json.RawMessage `json:"credential"`
}

type passkeyBeginLogin struct {
	Username string `json:"username"`
}

type passkeySignUp struct {
	Username string `json:"username"`
	Email    string `json:"email"`
}

type passkeyMFA struct {
	MFAToken   string          `json:"mfa_token"`
	Credential json.RawMessage `json:"credential"`
}

type passkeyRename struct {
	Name string `json:"name"`
}

type passkeysResponse struct {
	Passkeys []*domain.Passkey `json:"passkeys"`
}

func (s *Server) passkeysOff(w http.ResponseWriter, r *http.Request) bool {
	if s.deps.Passkeys == nil {
		s.writeError(w, r, domain.ErrPasskeysOff)
		return true
	}
	return false
}

// passkeyBody decodes a ceremony's body into v (its malformed bodies
// answered 4xx first, as on every JSON route), then answers 404 when
// passkeys are off. False when it has answered.
func (s *Server) passkeyBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := decodeJSON(w, r, v); err != nil {
		s.writeError(w, r, err)
		return false
	}
	return !s.passkeysOff(w, r)
}

// passkeyFinishBody is passkeyBody for a finish: the credential is
// required.
func (s *Server) passkeyFinishBody(w http.ResponseWriter, r *http.Request) (*passkeyFinish, bool) {
	var body passkeyFinish
	if !s.passkeyBody(w, r, &body) {
		return nil, false
	}
	if err := credentialRequired(body.Credential); err != nil {
		s.writeError(w, r, err)
		return nil, false
	}
	return &body, true
}

// credentialRequired is the 422 of a finish without its credential.
func credentialRequired(c json.RawMessage) error {
	if len(c) == 0 || string(c) == "null" {
		return domain.ValidationError(domain.FieldError{Loc: []string{"body", "credential"},
			Msg: domain.MsgFieldRequired, Type: domain.TypeMissing})
	}
	return nil
}

// writeOptions answers a ceremony's begin with its options (never cached),
// or with err.
func (s *Server) writeOptions(w http.ResponseWriter, r *http.Request, opts any, err error) {
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, opts)
}

func (s *Server) passkeyRegisterBegin(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	var body passkeyBeginRegistration
	if !s.passkeyBody(w, r, &body) {
		return
	}
	opts, err := s.deps.Passkeys.BeginRegistration(r.Context(), p, body.Password)
	s.writeOptions(w, r, opts, err)
}

func (s *Server) passkeyRegisterFinish(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	body, ok := s.passkeyFinishBody(w, r)
	if !ok {
		return
	}
	k, err := s.deps.Passkeys.FinishRegistration(r.Context(), p, body.Name, body.Credential)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, k)
}

func (s *Server) passkeyLoginBegin(w http.ResponseWriter, r *http.Request) {
	var body passkeyBeginLogin
	if !s.passkeyBody(w, r, &body) {
		return
	}
	opts, err := s.deps.Passkeys.BeginLogin(r.Context(), body.Username)
	s.writeOptions(w, r, opts, err)
}

func (s *Server) passkeyLoginFinish(w http.ResponseWriter, r *http.Request) {
	body, ok := s.passkeyFinishBody(w, r)
	if !ok {
		return
	}
	tok, err := s.deps.Passkeys.FinishLogin(r.Context(), body.Credential)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeLogin(w, tok)
}

// passkeySignUpBegin starts a passkey-only account's sign-up.
func (s *Server) passkeySignUpBegin(w http.ResponseWriter, r *http.Request) {
	var body passkeySignUp
	if !s.passkeyBody(w, r, &body) {
		return
	}
	opts, err := s.deps.Passkeys.BeginSignUp(r.Context(), body.Username, body.Email)
	s.writeOptions(w, r, opts, err)
}

// passkeySignUpFinish creates the account with its passkey and signs it
// in, answering as POST /auth/register.
func (s *Server) passkeySignUpFinish(w http.ResponseWriter, r *http.Request) {
	body, ok := s.passkeyFinishBody(w, r)
	if !ok {
		return
	}
	u, tok, err := s.deps.Passkeys.FinishSignUp(r.Context(), body.Name, body.Credential)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, registerResponse{Message: "User registered successfully",
		Username: u.Username, tokenResponse: newTokenResponse(tok)})
}

// mfaWebAuthnBegin starts a passkey as the second step of a login.
func (s *Server) mfaWebAuthnBegin(w http.ResponseWriter, r *http.Request) {
	var body passkeyMFA
	if !s.passkeyBody(w, r, &body) {
		return
	}
	opts, err := s.deps.Passkeys.BeginMFA(r.Context(), body.MFAToken)
	s.writeOptions(w, r, opts, err)
}

// mfaWebAuthnFinish ends the login with the passkey's answer.
func (s *Server) mfaWebAuthnFinish(w http.ResponseWriter, r *http.Request) {
	var body passkeyMFA
	if !s.passkeyBody(w, r, &body) {
		return
	}
	if err := credentialRequired(body.Credential); err != nil {
		s.writeError(w, r, err)
		return
	}
	tok, err := s.deps.Passkeys.FinishMFA(r.Context(), body.MFAToken, body.Credential)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newTokenResponse(tok))
}

func (s *Server) listPasskeys(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	if s.passkeysOff(w, r) {
		return
	}
	keys, err := s.deps.Passkeys.List(r.Context(), p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if keys == nil {
		keys = []*domain.Passkey{}
	}
	writeJSON(w, http.StatusOK, passkeysResponse{Passkeys: keys})
}

// passkeyID is the {id} of the path; 404 when it is not one.
func passkeyID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, domain.ErrPasskeyNotFound
	}
	return id, nil
}

func (s *Server) renamePasskey(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	var body passkeyRename
	if !s.passkeyBody(w, r, &body) { // a malformed body is 4xx first, as on every JSON route
		return
	}
	id, err := passkeyID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.deps.Passkeys.Rename(r.Context(), p, id, body.Name); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) deletePasskey(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	if s.passkeysOff(w, r) {
		return
	}
	id, err := passkeyID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.deps.Passkeys.Delete(r.Context(), p, id); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
