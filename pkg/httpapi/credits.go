package httpapi

import (
	"net/http"

	"github.com/authsvc/authsvc/pkg/authsvc"
)

// Stubs until the credit handlers land (issue 4).

func (s *Server) creditBalance(w http.ResponseWriter, r *http.Request, p *authsvc.Principal) {
	s.notImplemented(w, r)
}
func (s *Server) creditAdd(w http.ResponseWriter, r *http.Request, p *authsvc.Principal) {
	s.notImplemented(w, r)
}
func (s *Server) creditUse(w http.ResponseWriter, r *http.Request, p *authsvc.Principal) {
	s.notImplemented(w, r)
}
func (s *Server) creditTransactions(w http.ResponseWriter, r *http.Request, p *authsvc.Principal) {
	s.notImplemented(w, r)
}
