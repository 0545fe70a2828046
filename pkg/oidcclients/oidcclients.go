// Package oidcclients holds the use cases of OpenID Connect client
// registrations: the applications that sign their users in through authsvc.
// Admins create, list, show, delete them and rotate their secrets
// (`authsvc client …`); every change is audited.
package oidcclients

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authsvc/authsvc/pkg/domain"
)

// Service implements the client registrations over a store.
type Service struct {
	db  domain.OIDCClientStore
	now domain.Clock
}

// New returns the service; clock nil means time.Now.
func New(db domain.OIDCClientStore, clock domain.Clock) *Service {
	if clock == nil {
		clock = time.Now
	}
	return &Service{db: db, now: clock}
}

// Create registers a client, audited as the command line's, and returns it
// with its secret (confidential clients), shown this once.
func (s *Service) Create(ctx context.Context, req domain.NewOIDCClient) (*domain.CreatedOIDCClient, error) {
	if len(req.Grants) == 0 {
		req.Grants = domain.DefaultOIDCGrants
	}
	if len(req.Scopes) == 0 {
		req.Scopes = domain.DefaultOIDCScopes
	}
	if req.IDTokenAlg == "" {
		req.IDTokenAlg = domain.OIDCIDTokenAlgs[0]
	}
	if err := validate(&req); err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	c := &domain.OIDCClient{ID: newClientID(), Name: strings.TrimSpace(req.Name), Public: req.Public, FirstParty: req.FirstParty,
		RedirectURIs: req.RedirectURIs, PostLogoutRedirectURIs: req.PostLogoutRedirectURIs, Grants: req.Grants,
		Scopes: req.Scopes, IDTokenAlg: req.IDTokenAlg, CreatedAt: now, UpdatedAt: now}
	var secret string
	if !c.Public {
		secret = newSecret()
		c.SecretHash = domain.HashToken(secret)
	}
	ev := audit(domain.AuditOIDCClientCreated, map[string]any{"client_id": c.ID, "name": c.Name, "public": c.Public,
		"first_party": c.FirstParty, "grants": c.Grants, "redirect_uris": c.RedirectURIs})
	if err := s.db.CreateOIDCClient(domain.WithAudit(ctx, ev), c); err != nil {
		return nil, err
	}
	return &domain.CreatedOIDCClient{OIDCClient: c, Secret: secret}, nil
}

// List returns every client, oldest first.
func (s *Service) List(ctx context.Context) ([]*domain.OIDCClient, error) {
	return s.db.OIDCClients(ctx)
}

// Get returns client id (ErrOIDCClientNotFound).
func (s *Service) Get(ctx context.Context, id string) (*domain.OIDCClient, error) {
	return s.db.OIDCClient(ctx, id)
}

// Delete removes client id, audited.
func (s *Service) Delete(ctx context.Context, id string) error {
	return s.db.DeleteOIDCClient(domain.WithAudit(ctx, audit(domain.AuditOIDCClientDeleted, map[string]any{"client_id": id})), id)
}

// RotateSecret gives confidential client id a new secret, returned this
// once; the old one stops working at once. EVALIDATION for a public client.
func (s *Service) RotateSecret(ctx context.Context, id string) (string, error) {
	c, err := s.db.OIDCClient(ctx, id)
	if err != nil {
		return "", err
	}
	if c.Public {
		return "", domain.ValidationError(domain.FieldError{Loc: []string{"client"}, Msg: domain.MsgOIDCPublicNoSecret, Type: domain.TypeValueError})
	}
	secret := newSecret()
	ctx = domain.WithAudit(ctx, audit(domain.AuditOIDCClientSecretRotated, map[string]any{"client_id": id}))
	if err := s.db.SetOIDCClientSecret(ctx, id, domain.HashToken(secret), s.now()); err != nil {
		return "", err
	}
	return secret, nil
}

// audit is an event of the command line's (clients are managed by admins
// there).
func audit(name string, details map[string]any) *domain.AuditEvent {
	details["via"] = "cli"
	return &domain.AuditEvent{Event: name, Details: details}
}

// validate reports every bad field of req at once.
func validate(req *domain.NewOIDCClient) error {
	var v domain.Validator
	name := strings.TrimSpace(req.Name)
	if name == "" || utf8.RuneCountInString(name) > domain.MaxOIDCClientName || strings.ContainsFunc(name, isControl) {
		v.Add(domain.MsgOIDCClientName, domain.TypeValueError, "name")
	}
	for field, uris := range map[string][]string{"redirect_uris": req.RedirectURIs, "post_logout_redirect_uris": req.PostLogoutRedirectURIs} {
		if len(uris) > domain.MaxOIDCRedirects {
			v.Add(domain.MsgOIDCRedirects, domain.TypeValueError, field)
		}
		for _, u := range uris {
			if !domain.ValidRedirectURI(u) {
				v.Add(domain.MsgOIDCRedirectURI, domain.TypeValueError, field)
				break
			}
		}
	}
	for _, g := range req.Grants {
		if !slices.Contains(domain.OIDCGrants, g) {
			v.Add(domain.MsgOIDCGrant, domain.TypeValueError, "grants")
			break
		}
	}
	if slices.Contains(req.Grants, domain.GrantAuthorizationCode) && len(req.RedirectURIs) == 0 {
		v.Add(domain.MsgOIDCRedirectRequired, domain.TypeValueError, "redirect_uris")
	}
	if req.Public && slices.Contains(req.Grants, domain.GrantClientCredentials) {
		v.Add(domain.MsgOIDCPublicCredential, domain.TypeValueError, "grants")
	}
	if !slices.Contains(domain.OIDCIDTokenAlgs, req.IDTokenAlg) {
		v.Add(domain.MsgOIDCIDTokenAlg, domain.TypeValueError, "id_token_signing_alg")
	}
	if !validScopes(req.Scopes) {
		v.Add(domain.MsgOIDCScope, domain.TypeValueError, "scopes")
	}
	return v.Err()
}

// validScopes: distinct, 1 to 64 printable ASCII characters without spaces.
func validScopes(scopes []string) bool {
	seen := map[string]bool{}
	for _, sc := range scopes {
		if sc == "" || len(sc) > 64 || seen[sc] || strings.ContainsFunc(sc, func(r rune) bool { return r <= ' ' || r > '~' }) {
			return false
		}
		seen[sc] = true
	}
	return true
}

func isControl(r rune) bool { return r < ' ' || r == 0x7f }

// newClientID is a client's public id: 15 random bytes, base32 lower case.
func newClientID() string {
	var b [15]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go ≥ 1.24)
	return strings.ToLower(base32.StdEncoding.EncodeToString(b[:]))
}

// newSecret is a client secret: 32 random bytes, base64url.
func newSecret() string { return domain.RandomToken(32) }
