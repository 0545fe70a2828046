package httpapi

import (
	"net/http"
	"strconv"

	"github.com/authsvc/authsvc/pkg/domain"
)

// The upstream identity provider endpoints (/auth/providers/...) and the
// linked identities (/auth/identities/...). Without providers configured,
// the list is empty and everything else is 404.

type providersResponse struct {
	Providers []domain.ProviderInfo `json:"providers"`
}

type providerExchange struct {
	Code         string `json:"code"`
	CodeVerifier string `json:"code_verifier"`
}

type identityLinkStart struct {
	RedirectTo    string `json:"redirect_to"`
	CodeChallenge string `json:"code_challenge"`
	Password      string `json:"password"`
}

type identityLinked struct {
	Provider string `json:"provider"`
}

type identityLinkResponse struct {
	AuthorizationURL string `json:"authorization_url"`
}

type identitiesResponse struct {
	Identities []*domain.Identity `json:"identities"`
}

// federation is the configured service, or nil after answering 404.
func (s *Server) federation(w http.ResponseWriter, r *http.Request) domain.FederationService {
	if s.deps.Federation == nil {
		s.writeError(w, r, domain.ErrProviderNotFound)
	}
	return s.deps.Federation
}

func (s *Server) listProviders(w http.ResponseWriter, r *http.Request) {
	out := []domain.ProviderInfo{}
	if s.deps.Federation != nil {
		out = s.deps.Federation.Providers()
	}
	writeJSON(w, http.StatusOK, providersResponse{Providers: out})
}

// providerStart redirects the browser to the provider.
func (s *Server) providerStart(w http.ResponseWriter, r *http.Request) {
	f := s.federation(w, r)
	if f == nil {
		return
	}
	q := r.URL.Query()
	if m := q.Get("code_challenge_method"); m != "" && m != "S256" {
		s.writeError(w, r, domain.ValidationError(domain.FieldError{Loc: []string{"query", "code_challenge_method"},
			Msg: "only S256 is supported", Type: domain.TypeValueError}))
		return
	}
	to, err := f.Start(r.Context(), r.PathValue("name"), q.Get("redirect_to"), q.Get("code_challenge"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, to, http.StatusFound) //nolint:gosec // G710: the provider's URL, built by the service, not the request
}

// providerCallback is where the provider sends the browser back.
func (s *Server) providerCallback(w http.ResponseWriter, r *http.Request) {
	f := s.federation(w, r)
	if f == nil {
		return
	}
	to, err := f.Callback(r.Context(), r.PathValue("name"), r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer") // the request to redirect_to carries no Referer
	http.Redirect(w, r, to, http.StatusFound)        //nolint:gosec // G710: redirect_to was checked against the allow-list at the start

}

func (s *Server) providerExchange(w http.ResponseWriter, r *http.Request) {
	var body providerExchange
	if err := decodeJSON(w, r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	f := s.federation(w, r)
	if f == nil {
		return
	}
	tok, err := f.Exchange(r.Context(), body.Code, body.CodeVerifier)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeLogin(w, tok)
}

func (s *Server) identityLinkStart(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	var body identityLinkStart
	if err := decodeJSON(w, r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	f := s.federation(w, r)
	if f == nil {
		return
	}
	to, err := f.StartLink(r.Context(), p, r.PathValue("provider"), body.Password, body.RedirectTo, body.CodeChallenge)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, identityLinkResponse{AuthorizationURL: to})
}

// identityLinkExchange redeems a link's code: only the user who started
// the link may, with the app's verifier.
func (s *Server) identityLinkExchange(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	var body providerExchange
	if err := decodeJSON(w, r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	f := s.federation(w, r)
	if f == nil {
		return
	}
	name, err := f.ExchangeLink(r.Context(), p, body.Code, body.CodeVerifier)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, identityLinked{Provider: name})
}

func (s *Server) listIdentities(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	var out []*domain.Identity
	if s.deps.Federation != nil {
		var err error
		if out, err = s.deps.Federation.Identities(r.Context(), p); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if out == nil {
		out = []*domain.Identity{}
	}
	writeJSON(w, http.StatusOK, identitiesResponse{Identities: out})
}

func (s *Server) unlinkIdentity(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 || s.deps.Federation == nil {
		s.writeError(w, r, domain.ErrIdentityNotFound)
		return
	}
	if err := s.deps.Federation.Unlink(r.Context(), p, id); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
