package cmd

import (
	"github.com/authsvc/authsvc/pkg/seal"
	"time"

	"github.com/authsvc/authsvc/pkg/account"
	"github.com/authsvc/authsvc/pkg/apikeys"
	"github.com/authsvc/authsvc/pkg/credits"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/federation"
	"github.com/authsvc/authsvc/pkg/oidcclients"
	"github.com/authsvc/authsvc/pkg/oidcprovider"
	"github.com/authsvc/authsvc/pkg/passkeys"
	"github.com/authsvc/authsvc/pkg/password"
	"github.com/authsvc/authsvc/pkg/signingkeys"
	"github.com/authsvc/authsvc/pkg/store"
	"github.com/authsvc/authsvc/pkg/token"
	"github.com/spf13/cobra"
)

// adminWait is how long admin commands wait for the database before exiting 5.
const adminWait = 5 * time.Second

// services are the use cases every face calls: the same for serve and the CLI.
type services struct {
	auth     *account.Service
	credits  *credits.Service
	keys     *signingkeys.Service
	holds    *credits.Holds
	apiKeys  *apikeys.Service
	tokens   *token.Issuer
	hasher   *password.Hasher
	clients  *oidcclients.Service
	oidc     *oidcprovider.Provider // nil unless oidc.enabled
	passkeys *passkeys.Service      // nil unless webauthn.enabled
	// federation is sign-in through identity_providers; nil without any.
	federation *federation.Service
}

// buildServices constructs the use cases over db. serve passes Prometheus
// backed metrics; the CLI passes none.
func (a *app) buildServices(db *store.DB, authMetrics account.Metrics, creditOpts credits.Options) (*services, error) {
	// Only commands that sign or verify tokens need the secret (migrate does not).
	if err := ensureSecret(a.cfg, a.log); err != nil {
		return nil, err
	}
	hasher, err := password.New(a.cfg.Auth.BcryptCost)
	if err != nil {
		return nil, err
	}
	tokens, err := token.New(token.Config{
		Secret:    []byte(a.cfg.Auth.SecretKey),
		Issuer:    a.cfg.Auth.Issuer,
		Audience:  a.cfg.Auth.Audience,
		AccessTTL: a.cfg.AccessTTL(),
		ResetTTL:  a.cfg.ResetTTL(),
		Now:       a.clock,

		RefuseSecretAfterRotation: a.cfg.Auth.RefuseSecretTokens,
	})
	if err != nil {
		return nil, err
	}
	authOpts := account.Options{
		MaxSession:           a.cfg.MaxSession(),
		FailedLoginLimit:     a.cfg.Auth.FailedLoginLimit,
		FailedLoginWindow:    a.cfg.Auth.FailedLoginWindow,
		RequireVerifiedEmail: a.cfg.Auth.RequireVerifiedEmail,
		AuditRetention:       a.cfg.AuditRetention(),
		VerifyTTL:            a.cfg.VerifyTTL(),
		FrontendURL:          a.cfg.Mail.FrontendURL,
		Logger:               a.log,
		Metrics:              authMetrics,
		Clock:                a.clock,
		MFARequiredForAdmins: a.cfg.Auth.MFARequiredForAdmins,
		TOTPIssuer:           a.cfg.Auth.Issuer,
		Passkeys:             a.cfg.WebAuthn.Enabled,
		ResetEmailInterval:   domain.ResetEmailInterval,
		VerifyInterval:       domain.VerifyEmailInterval,
	}
	var sealer domain.SecretSealer
	if kek := a.cfg.Auth.KeyEncryptionKey; kek != "" {
		sl, err := seal.New([]byte(kek))
		if err != nil {
			return nil, err
		}
		sealer = sl
	}
	var hashes domain.PasswordHasher = hasher
	if a.build.WrapHasher != nil {
		hashes = a.build.WrapHasher(hasher)
	}
	if a.build.AuthOptions != nil {
		a.build.AuthOptions(&authOpts)
	}
	authSvc, err := account.New(account.Deps{Store: db, Hasher: hashes, Policy: hasher, Tokens: tokens, Sealer: sealer}, authOpts)
	if err != nil {
		return nil, err
	}
	keySvc, err := signingkeys.New(db, tokens, signingkeys.Options{
		AccessTTL:        a.cfg.AccessTTL(),
		RefreshInterval:  a.cfg.Auth.KeysRefreshInterval,
		KeyEncryptionKey: []byte(a.cfg.Auth.KeyEncryptionKey),
		Clock:            a.clock,
		Logger:           a.log,
	})
	if err != nil {
		return nil, err
	}
	creditOpts.UserSelfAdd = a.cfg.Credits.UserSelfAdd
	// Group commit pays on PostgreSQL, where each commit waits for its own
	// fsync; SQLite's writes are serialized in-process anyway, so it is off there.
	creditOpts.GroupCommit = a.cfg.Credits.GroupCommit && db.Dialect == store.Postgres
	creditOpts.MaxBatch = a.cfg.Credits.GroupCommitMaxBatch
	creditOpts.StepUp = authSvc
	creditOpts.Logger = a.log
	creditSvc := credits.New(db, creditOpts)
	return &services{auth: authSvc, credits: creditSvc, keys: keySvc, tokens: tokens, hasher: hasher,
		clients: oidcclients.New(db, a.clock),
		apiKeys: apikeys.New(db, apikeys.Options{Clock: a.clock, Logger: a.log, Ledger: creditSvc}),
		holds: credits.NewHolds(db, credits.HoldOptions{Logger: a.log, Metrics: creditOpts.Metrics,
			GroupCommit: creditSvc.GroupCommit()})}, nil
}

// buildWebServices adds what only serve uses: the OpenID Connect provider
// (oidc.enabled) and passkeys (webauthn.enabled).
func (a *app) buildWebServices(svc *services) error {
	provider, err := a.oidcProvider(a.db, svc.tokens)
	if err != nil {
		return err
	}
	svc.oidc = provider
	if w := a.cfg.WebAuthn; w.Enabled {
		keys, err := passkeys.New(passkeys.Config{RPID: w.RPID, RPName: w.RPName, Origins: w.Origins}, a.db, svc.auth, a.log, a.clock)
		if err != nil {
			return err
		}
		svc.passkeys = keys
	}
	if len(a.cfg.IdentityProviders) > 0 {
		fed, err := federation.New(a.federationConfig(), a.db, svc.auth, a.log, a.clock)
		if err != nil {
			return err
		}
		svc.federation = fed
	}
	return nil
}

// federationConfig is identity_providers, server.public_url and
// auth.redirect_allow_list.
func (a *app) federationConfig() federation.Config {
	c := federation.Config{PublicURL: a.cfg.PublicURL(), RedirectAllowList: a.cfg.Auth.RedirectAllowList}
	for _, p := range a.cfg.IdentityProviders {
		c.Providers = append(c.Providers, federation.Provider{Name: p.Name, Kind: p.Kind, Label: p.Label, Issuer: p.Issuer,
			ClientID: p.ClientID, ClientSecret: p.ClientSecret, Scopes: p.Scopes, AllowedEmailDomains: p.AllowedEmailDomains,
			AutoCreate: p.Creates(), TrustMFA: p.TrustMFA, GitHubURL: p.GitHubURL, GitHubAPIURL: p.GitHubAPIURL})
	}
	return c
}

// oidcProvider builds the OpenID Connect provider when oidc.enabled.
func (a *app) oidcProvider(db *store.DB, tokens *token.Issuer) (*oidcprovider.Provider, error) {
	o := a.cfg.OIDC
	if !o.Enabled {
		return nil, nil
	}
	return oidcprovider.New(oidcprovider.Config{
		Issuer:               o.Issuer,
		CodeLifetime:         o.CodeLifetime,
		RequestLifetime:      o.RequestLifetime,
		AccessTokenLifetime:  o.AccessTokenLifetime,
		IDTokenLifetime:      o.IDTokenLifetime,
		RefreshTokenLifetime: o.RefreshTokenLifetime,
		Secret:               []byte(a.cfg.Auth.SecretKey),
	}, oidcprovider.Deps{Store: db, Clients: db, Keys: tokens, Logger: a.log, Clock: a.clock})
}

// adminServices loads the configuration, opens the database (applying
// pending migrations when database.auto_migrate is on, as serve would) and
// builds the services, for the admin commands.
func (a *app) adminServices(cmd *cobra.Command) (*services, error) {
	db, err := a.adminDB(cmd)
	if err != nil {
		return nil, err
	}
	return a.buildServices(db, nil, credits.Options{})
}

// adminDB loads the configuration and opens the existing database (never
// creating one), applying pending migrations when database.auto_migrate is on.
func (a *app) adminDB(cmd *cobra.Command) (*store.DB, error) {
	db, err := a.migrationDB(cmd, adminWait)
	if err != nil {
		return nil, err
	}
	if a.cfg.Database.AutoMigrate {
		if _, err := db.MigrateUp(cmd.Context()); err != nil {
			return nil, err
		}
	}
	return db, nil
}

// exactArgs is cobra.ExactArgs with a usage error naming what is expected.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s takes %s (got %d argument(s))", cmd.CommandPath(), what, len(args))
		}
		return nil
	}
}
