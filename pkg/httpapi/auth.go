package httpapi

import (
	"net/http"

	"github.com/authsvc/authsvc/pkg/authsvc"
)

// Stubs until the auth handlers land (issue 3).

func (s *Server) register(w http.ResponseWriter, r *http.Request)             { s.notImplemented(w, r) }
func (s *Server) login(w http.ResponseWriter, r *http.Request)                { s.notImplemented(w, r) }
func (s *Server) passwordResetRequest(w http.ResponseWriter, r *http.Request) { s.notImplemented(w, r) }
func (s *Server) resetPassword(w http.ResponseWriter, r *http.Request)        { s.notImplemented(w, r) }
func (s *Server) refresh(w http.ResponseWriter, r *http.Request)              { s.notImplemented(w, r) }
func (s *Server) me(w http.ResponseWriter, r *http.Request, p *authsvc.Principal) {
	s.notImplemented(w, r)
}
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, p *authsvc.Principal) {
	s.notImplemented(w, r)
}
func (s *Server) changeEmail(w http.ResponseWriter, r *http.Request, p *authsvc.Principal) {
	s.notImplemented(w, r)
}
func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, p *authsvc.Principal) {
	s.notImplemented(w, r)
}
func (s *Server) logout(w http.ResponseWriter, r *http.Request, p *authsvc.Principal) {
	s.notImplemented(w, r)
}
func (s *Server) userDetails(w http.ResponseWriter, r *http.Request, p *authsvc.Principal) {
	s.notImplemented(w, r)
}
