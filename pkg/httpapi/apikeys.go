package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"

	"github.com/authsvc/authsvc/pkg/domain"
)

// The API key endpoints: POST and GET /auth/api-keys, DELETE
// /auth/api-keys/{id}. All of them need a signed-in user, never a key.

type apiKeysResponse struct {
	Keys []*domain.APIKey `json:"keys"`
}

// apiKeysUnavailable answers when the server has no API key service.
func (s *Server) apiKeysUnavailable(w http.ResponseWriter, r *http.Request) bool {
	if s.deps.APIKeys == nil {
		s.writeError(w, r, errRouteNotFound)
		return true
	}
	return false
}

func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	if s.apiKeysUnavailable(w, r) {
		return
	}
	var body domain.NewAPIKey
	if err := decodeJSON(w, r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	k, err := s.deps.APIKeys.CreateAPIKey(r.Context(), p, body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, k)
}

func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	if s.apiKeysUnavailable(w, r) {
		return
	}
	keys, err := s.deps.APIKeys.APIKeys(r.Context(), p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apiKeysResponse{Keys: keys})
}

func (s *Server) revokeAPIKey(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	if s.apiKeysUnavailable(w, r) {
		return
	}
	if err := s.deps.APIKeys.RevokeAPIKey(r.Context(), p, r.PathValue("id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, messageResponse{domain.MsgAPIKeyRevoked})
}

// ScopeKeysVerify is the scope a client-credentials token needs to call
// POST /keys/verify.
const ScopeKeysVerify = "keys:verify"

// verifyKey is POST /keys/verify, for services: is this key good, and
// (with a cost) charge its owner. Always 200 with valid true or false once
// the caller is a known service; failed verifications count toward the
// per-IP limit (ClassVerify).
func (s *Server) verifyKey(w http.ResponseWriter, r *http.Request) {
	if err := s.serviceCredential(r); err != nil { // first: a caller without one learns nothing
		s.writeError(w, r, err)
		return
	}
	if s.deps.Verifier == nil {
		s.writeError(w, r, errRouteNotFound)
		return
	}
	var req domain.VerifyRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.deps.Verifier.Verify(r.Context(), req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	switch res.Code {
	case domain.VerifyNotFound, domain.VerifyExpired, domain.VerifyRevoked:
		markFailed(r)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, res)
}

// serviceCredential accepts a bearer token that is one of the configured
// verifier secrets (compared in constant time, through their SHA-256 so
// that not even their length leaks) or a client-credentials token with the
// keys:verify scope.
func (s *Server) serviceCredential(r *http.Request) error {
	bearer, ok := bearerToken(r)
	if !ok {
		return domain.ErrVerifierRequired
	}
	got := sha256.Sum256([]byte(bearer))
	match := 0
	for _, secret := range s.deps.VerifierSecrets {
		want := sha256.Sum256([]byte(secret))
		match |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	if match == 1 {
		return nil
	}
	if s.deps.ServiceTokens != nil {
		if _, err := s.deps.ServiceTokens.VerifyServiceToken(r.Context(), bearer, ScopeKeysVerify); err == nil {
			return nil
		} else if domain.ErrorCode(err) != domain.EUNAUTHORIZED {
			return err
		}
	}
	return domain.ErrVerifierRequired
}
