package oidcprovider

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/authsvc/authsvc/pkg/domain"
)

// storage implements zitadel's op.Storage (and the optional interfaces
// below) over authsvc's store. Round trips: a code exchange reads its code
// (with the user), its client, and writes its tokens; a refresh reads its
// client and its token (with the user), and rotates it; userinfo reads its
// token with the user.
type storage struct{ p *Provider }

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.ClientCredentialsStorage       = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
	_ op.CanTerminateSessionFromRequest = (*storage)(nil)
)

const algRS256 = "RS256"

// refreshPrefix marks a refresh token's id as GetRefreshTokenInfo hands it
// to RevokeToken.
const refreshPrefix = "refresh:"

func (s *storage) now() time.Time { return s.p.now() }

// CreateAuthRequest stores a validated authorization request. It refuses
// what authsvc does not accept: a response type other than code, PKCE
// other than S256, a public client without PKCE, form_post.
func (s *storage) CreateAuthRequest(ctx context.Context, ar *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	c, err := s.client(ctx, ar.ClientID)
	if err != nil {
		return nil, err
	}
	switch {
	case ar.ResponseType != oidc.ResponseTypeCode:
		return nil, oidc.ErrInvalidRequest().WithDescription("only response_type=code is supported")
	case ar.CodeChallenge != "" && ar.CodeChallengeMethod != oidc.CodeChallengeMethodS256:
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	case c.Public && ar.CodeChallenge == "":
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE (code_challenge with S256) is required for this client")
	case ar.ResponseMode != "" && ar.ResponseMode != oidc.ResponseModeQuery && ar.ResponseMode != oidc.ResponseModeFragment:
		return nil, oidc.ErrInvalidRequest().WithDescription("response_mode must be query or fragment")
	}
	now := s.now()
	r := &domain.OIDCRequest{ID: newID(), ClientID: c.ID, RedirectURI: ar.RedirectURI, State: ar.State, Nonce: ar.Nonce,
		Scopes: ar.Scopes, ResponseType: string(ar.ResponseType), ResponseMode: string(ar.ResponseMode),
		LoginHint: ar.LoginHint, CodeChallenge: ar.CodeChallenge, CodeChallengeMethod: string(ar.CodeChallengeMethod),
		CreatedAt: now, ExpiresAt: now.Add(s.p.cfg.RequestLifetime)}
	for _, p := range ar.Prompt {
		if slices.Contains([]string{oidc.PromptNone, oidc.PromptLogin, oidc.PromptConsent, oidc.PromptSelectAccount}, p) {
			r.Prompt = append(r.Prompt, p)
		}
	}
	if ar.MaxAge != nil {
		age := int64(min(*ar.MaxAge, math.MaxInt32)) // seconds: capped far beyond any session
		r.MaxAge = &age
	}
	if err := s.p.deps.Store.CreateOIDCRequest(ctx, r); err != nil {
		return nil, err
	}
	return &authRequest{r}, nil
}

// AuthRequestByID returns a request waiting for its code.
func (s *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	r, err := s.p.deps.Store.OIDCRequest(ctx, id, s.now())
	if err != nil {
		return nil, err
	}
	return &authRequest{r}, nil
}

// AuthRequestByCode redeems a code: once only (a replay revokes its
// tokens).
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	r, err := s.p.deps.Store.RedeemOIDCCode(ctx, domain.HashToken(code), s.now())
	if errors.Is(err, domain.ErrOIDCCodeReplayed) {
		s.p.deps.Logger.Warn().Msg("oidc: an authorization code was presented again; its tokens are revoked")
	}
	if err != nil {
		return nil, err
	}
	return &authRequest{r}, nil
}

// SaveAuthCode stores the code's hash; it lives for oidc.code_lifetime.
func (s *storage) SaveAuthCode(ctx context.Context, id, code string) error {
	return s.p.deps.Store.SetOIDCCode(ctx, id, domain.HashToken(code), s.now().Add(s.p.cfg.CodeLifetime))
}

// DeleteAuthRequest keeps the request: its redeemed code stays on record so
// that a replay is recognised (and its tokens revoked) until it is pruned.
func (s *storage) DeleteAuthRequest(context.Context, string) error { return nil }

// CreateAccessToken stores an access token without a refresh token.
func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	t, err := s.newToken(req)
	if err != nil {
		return "", time.Time{}, err
	}
	if err := s.p.deps.Store.CreateOIDCToken(ctx, t); err != nil {
		return "", time.Time{}, err
	}
	return t.ID, t.ExpiresAt, nil
}

// CreateAccessAndRefreshTokens stores an access token with a new refresh
// token; given the current refresh token it rotates it.
func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	t, err := s.newToken(req)
	if err != nil {
		return "", "", time.Time{}, err
	}
	refresh := newSecret()
	t.RefreshHash, t.RefreshExpiresAt = domain.HashToken(refresh), t.CreatedAt.Add(s.p.cfg.RefreshTokenLifetime)
	if current == "" {
		err = s.p.deps.Store.CreateOIDCToken(ctx, t)
	} else {
		err = s.p.deps.Store.RotateOIDCRefresh(ctx, domain.HashToken(current), t, s.now())
	}
	if err != nil {
		return "", "", time.Time{}, grantError(err)
	}
	return t.ID, refresh, t.ExpiresAt, nil
}

// newToken is the row of a token issued for req.
func (s *storage) newToken(req op.TokenRequest) (*domain.OIDCToken, error) {
	now := s.now()
	t := &domain.OIDCToken{ID: newID(), Scopes: req.GetScopes(), CreatedAt: now, ExpiresAt: now.Add(s.p.cfg.AccessTokenLifetime)}
	t.FamilyID = t.ID
	switch r := req.(type) {
	case *authRequest:
		t.ClientID, t.UserID, t.RequestID, t.SessionID = r.ClientID, r.UserID, r.ID, r.SessionID
		t.AMR, t.AuthTime = r.AMR, r.AuthTime
		if r.User != nil {
			t.TokenVersion = r.User.TokenVersion
		}
	case *refreshRequest:
		t.ClientID, t.UserID, t.SessionID, t.AMR, t.AuthTime = r.ClientID, r.UserID, r.SessionID, r.AMR, r.AuthTime
		t.TokenVersion = r.TokenVersion
	case *clientRequest:
		t.ClientID = r.clientID
	default:
		return nil, oidc.ErrUnsupportedGrantType()
	}
	return t, nil
}

// TokenRequestByRefreshToken reads a refresh token's grant (with its
// user); a used one presented again revokes its family.
func (s *storage) TokenRequestByRefreshToken(ctx context.Context, refresh string) (op.RefreshTokenRequest, error) {
	t, err := s.p.deps.Store.OIDCTokenByRefresh(ctx, domain.HashToken(refresh), s.now())
	if err != nil {
		return nil, grantError(err)
	}
	return &refreshRequest{OIDCToken: t, scopes: t.Scopes}, nil
}

// grantError turns the store's "no such grant" into invalid_grant, and
// keeps other errors (a database fault answers server_error).
func grantError(err error) error {
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return oidc.ErrInvalidGrant().WithParent(err)
	}
	return err
}

// TerminateSession is not called: TerminateSessionFromRequest is.
func (s *storage) TerminateSession(context.Context, string, string) error { return nil }

// TerminateSessionFromRequest ends the browser's session at authsvc when it
// is the id_token_hint's user (RP-initiated logout), and sends the browser
// to the post_logout_redirect_uri (checked against the client's list) or
// to the sign-in page.
func (s *storage) TerminateSessionFromRequest(ctx context.Context, req *op.EndSessionRequest) (string, error) {
	m := memoOf(ctx)
	if id, err := strconv.ParseInt(req.UserID, 10, 64); err == nil && m != nil && m.r != nil && s.p.deps.Browser != nil {
		if err := s.p.deps.Browser.EndSession(m.r, id); err != nil {
			return "", err
		}
	}
	if req.RedirectURI != "" {
		return req.RedirectURI, nil
	}
	if req.IDTokenHintClaims == nil {
		return "/signout", nil // no proof of who asks: the user confirms on the page
	}
	return "/signin", nil
}

// GetRefreshTokenInfo identifies a refresh token for revocation.
func (s *storage) GetRefreshTokenInfo(ctx context.Context, clientID, refresh string) (string, string, error) {
	t, err := s.p.deps.Store.OIDCTokenByRefresh(ctx, domain.HashToken(refresh), s.now())
	if err != nil || t.ClientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return strconv.FormatInt(t.UserID, 10), refreshPrefix + domain.HashToken(refresh), nil
}

// RevokeToken revokes an access token (by id) or a refresh token's family,
// when issued to clientID; an unknown token is not an error (RFC 7009).
func (s *storage) RevokeToken(ctx context.Context, tokenOrID, _ string, clientID string) *oidc.Error {
	id, hash := tokenOrID, ""
	if h, ok := strings.CutPrefix(tokenOrID, refreshPrefix); ok {
		id, hash = "", h
	}
	if err := s.p.deps.Store.RevokeOIDCToken(ctx, id, hash, clientID, s.now()); err != nil {
		s.p.deps.Logger.Error().Err(err).Msg("oidc: revoke failed")
		return oidc.ErrServerError()
	}
	return nil
}

// SigningKey is the key of the client in this request (its registered ID
// token algorithm), RS256 otherwise.
func (s *storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	alg := algRS256
	if m := memoOf(ctx); m != nil && len(m.clients) == 1 {
		for _, c := range m.clients {
			if c.IDTokenAlg != "" {
				alg = c.IDTokenAlg
			}
		}
	}
	kid, key, ok := s.p.deps.Keys.SigningKeyFor(alg)
	if !ok {
		s.p.deps.Logger.Error().Str("alg", alg).Msg("oidc: no signing key for the algorithm; run authsvc keys generate --alg " + alg)
		return nil, oidc.ErrServerError().WithDescription("no signing key for %s", alg)
	}
	return signingKey{kid: kid, alg: jose.SignatureAlgorithm(alg), key: key}, nil
}

// SignatureAlgorithms lists the algorithms this replica can sign with,
// RS256 first.
func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	var out []jose.SignatureAlgorithm
	for _, alg := range domain.OIDCIDTokenAlgs {
		if _, _, ok := s.p.deps.Keys.SigningKeyFor(alg); ok {
			out = append(out, jose.SignatureAlgorithm(alg))
		}
	}
	if len(out) == 0 {
		out = []jose.SignatureAlgorithm{algRS256}
	}
	return out, nil
}

// KeySet is every published key.
func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	pub := s.p.deps.Keys.PublicKeys()
	out := make([]op.Key, 0, len(pub))
	for _, k := range pub {
		out = append(out, publicKey{kid: k.KID, alg: jose.SignatureAlgorithm(k.Alg), key: k.Key})
	}
	return out, nil
}

// client reads a registration once per HTTP request.
func (s *storage) client(ctx context.Context, id string) (*domain.OIDCClient, error) {
	m := memoOf(ctx)
	if m != nil {
		if c, ok := m.clients[id]; ok {
			return c, nil
		}
	}
	c, err := s.p.deps.Clients.OIDCClient(ctx, id)
	if err != nil {
		if domain.ErrorCode(err) == domain.ENOTFOUND {
			return nil, oidc.ErrInvalidClient().WithDescription("unknown client").WithParent(err)
		}
		return nil, oidc.ErrServerError().WithParent(err)
	}
	if m != nil {
		m.clients[id] = c
	}
	return c, nil
}

// GetClientByClientID returns the client's registration.
func (s *storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.client(ctx, id)
	if err != nil {
		return nil, err
	}
	return &client{c: c, p: s.p}, nil
}

// AuthorizeClientIDSecret checks a confidential client's secret.
func (s *storage) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	c, err := s.client(ctx, id)
	if err != nil {
		return err
	}
	if !c.SecretMatches(secret) {
		return oidc.ErrInvalidClient().WithDescription("client authentication failed")
	}
	return nil
}

// SetUserinfoFromScopes is deprecated in op; SetUserinfoFromRequest fills
// the claims.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills an ID token's claims from the user read
// with the code or the refresh token: no extra round trip.
func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	var u *domain.User
	switch r := req.(type) {
	case *authRequest:
		u = r.User
	case *refreshRequest:
		u = r.User
	}
	if u == nil {
		return oidc.ErrServerError().WithDescription("the token's user is not loaded")
	}
	setUserinfo(info, u, scopes)
	return nil
}

// SetUserinfoFromToken answers userinfo: one round trip reads the access
// token (still valid) with its user.
func (s *storage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	t, err := s.p.deps.Store.OIDCTokenByID(ctx, tokenID, s.now())
	if err != nil {
		return err
	}
	if t.User == nil || strconv.FormatInt(t.UserID, 10) != subject {
		return oidc.ErrInvalidRequest().WithDescription("not a user's token")
	}
	setUserinfo(info, t.User, t.Scopes)
	return nil
}

// SetIntrospectionFromToken answers introspection for a token issued to
// the calling client (RFC 7662): any other, or an invalid one, is inactive.
func (s *storage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	t, err := s.p.deps.Store.OIDCTokenByID(ctx, tokenID, s.now())
	if err != nil {
		return err
	}
	if t.ClientID != clientID {
		return errors.New("token of another client")
	}
	resp.Active = true
	resp.Scope = t.Scopes
	resp.ClientID = t.ClientID
	resp.Subject = subject
	resp.Expiration = oidc.FromTime(t.ExpiresAt)
	resp.IssuedAt = oidc.FromTime(t.CreatedAt)
	resp.Issuer = s.p.cfg.Issuer
	resp.Audience = []string{t.ClientID}
	resp.TokenType = oidc.BearerToken
	if t.User != nil {
		info := new(oidc.UserInfo)
		setUserinfo(info, t.User, t.Scopes)
		resp.SetUserInfo(info)
	}
	return nil
}

// GetPrivateClaimsFromScopes adds no private claims.
func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetKeyByIDAndClientID: the JWT profile grant and private_key_jwt are not
// offered.
func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("JWT profile grants are not supported")
}

// ValidateJWTProfileScopes: the JWT profile grant is not offered.
func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("JWT profile grants are not supported")
}

// Health is the JSON API's readiness; the provider adds nothing.
func (s *storage) Health(context.Context) error { return nil }

// ClientCredentials authenticates a confidential client registered for the
// client_credentials grant.
func (s *storage) ClientCredentials(ctx context.Context, id, secret string) (op.Client, error) {
	c, err := s.client(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.Public || !c.SecretMatches(secret) {
		return nil, oidc.ErrInvalidClient().WithDescription("client authentication failed")
	}
	if !slices.Contains(c.Grants, domain.GrantClientCredentials) {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("the client is not registered for client_credentials")
	}
	return &client{c: c, p: s.p}, nil
}

// ClientCredentialsTokenRequest is a client's request for its own token,
// for the scopes it is registered for (all of them when it names none).
func (s *storage) ClientCredentialsTokenRequest(ctx context.Context, id string, scopes []string) (op.TokenRequest, error) {
	c, err := s.client(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(scopes) == 0 {
		scopes = c.Scopes
	}
	for _, sc := range scopes {
		if !slices.Contains(c.Scopes, sc) {
			return nil, oidc.ErrInvalidScope().WithDescription("scope %s is not registered for this client", sc)
		}
	}
	return &clientRequest{clientID: c.ID, scopes: scopes}, nil
}

// setUserinfo writes u's claims for scopes: sub always; email and
// email_verified for "email"; preferred_username for "profile".
func setUserinfo(info *oidc.UserInfo, u *domain.User, scopes []string) {
	info.Subject = strconv.FormatInt(u.ID, 10)
	if slices.Contains(scopes, oidc.ScopeEmail) {
		info.Email = u.Email
		info.EmailVerified = oidc.Bool(u.EmailVerified())
	}
	if slices.Contains(scopes, oidc.ScopeProfile) {
		info.PreferredUsername = u.Username
	}
}

// newID is a token or request id: 16 random bytes, base64url.
func newID() string { return domain.RandomToken(16) }

// newSecret is a refresh token: 32 random bytes, base64url.
func newSecret() string { return domain.RandomToken(32) }
