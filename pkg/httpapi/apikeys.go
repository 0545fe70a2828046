package httpapi

import (
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
