package httpapi

import (
	"net/http"

	"github.com/authsvc/authsvc/pkg/domain"
)

// The session endpoints: GET /auth/sessions, DELETE /auth/sessions/{id};
// POST /auth/logout takes the optional ?scope=.

// sessionResponse is a session with whether it is the caller's.
type sessionResponse struct {
	*domain.Session
	Current bool `json:"current"`
}

type sessionsResponse struct {
	Sessions []sessionResponse `json:"sessions"`
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	sessions, err := s.deps.Auth.Sessions(r.Context(), p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := sessionsResponse{Sessions: make([]sessionResponse, len(sessions))}
	for i, x := range sessions {
		out.Sessions[i] = sessionResponse{Session: x, Current: x.ID == p.SessionID()}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) endSession(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	if err := s.deps.Auth.EndSession(r.Context(), p, r.PathValue("id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, messageResponse{domain.MsgSessionEnded})
}
