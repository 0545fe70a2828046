package config

import (
	"net"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/authsvc/authsvc/pkg/dburl"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/proxyaddr"
	"github.com/rs/zerolog"
)

// MinSecretBytes is the shortest accepted auth.secret_key.
const MinSecretBytes = 32

// Validate checks every key and returns all problems at once, each naming
// its key, e.g. `database.url: unsupported scheme "mysql" (use postgres:// or sqlite:)`.
func (c *Config) Validate() error {
	var e errs
	switch c.Environment {
	case "development", "production":
	default:
		e.add("environment", "must be development or production, not %q", c.Environment)
	}
	c.validateServer(&e)
	if _, _, err := dburl.Parse(c.Database.URL); err != nil {
		e = append(e, err)
	}
	if c.Database.MaxOpenConns < 1 || c.Database.MaxIdleConns < 0 {
		e.add("database.max_open_conns", "must be at least 1 (max_idle_conns at least 0)")
	}
	if c.Database.QueryTimeout <= 0 {
		e.add("database.query_timeout", "must be positive, e.g. 5s")
	}
	if _, ok := onOff(c.Database.PreparedStatements); !ok {
		e.add("database.prepared_statements", "must be on or off, not %q", c.Database.PreparedStatements)
	}
	switch strings.ToUpper(c.Database.SQLiteSynchronous) {
	case "FULL", "EXTRA", "NORMAL":
	default:
		e.add("database.sqlite_synchronous", "must be FULL, EXTRA or NORMAL, not %q", c.Database.SQLiteSynchronous)
	}
	c.validateAuth(&e)
	c.validateMail(&e)
	for i, s := range c.APIKeys.VerifierSecrets {
		if len(s) < MinSecretBytes {
			e.add("api_keys.verifier_secrets", "secret %d is %d bytes; each needs at least %d", i+1, len(s), MinSecretBytes)
		}
	}
	c.validateWebAuthn(&e)
	c.validateOIDC(&e)
	c.loadProviders(&e)
	c.validateProviders(&e)
	if c.Audit.RetentionDays < 1 {
		e.add("audit.retention_days", "must be at least 1")
	}
	if _, err := zerolog.ParseLevel(strings.ToLower(c.Log.Level)); err != nil || c.Log.Level == "" {
		e.add("log.level", "unknown level %q (use debug, info, warn or error)", c.Log.Level)
	}
	if c.Log.Format != "console" && c.Log.Format != "json" {
		e.add("log.format", "must be console or json, not %q", c.Log.Format)
	}
	if c.Log.LogstashAddr != "" {
		if _, _, err := net.SplitHostPort(c.Log.LogstashAddr); err != nil {
			e.add("log.logstash_addr", "must be host:port: %v", err)
		}
	}
	if c.RateLimit.AuthPerMinute < 1 || c.RateLimit.DefaultPerMinute < 1 {
		e.add("ratelimit", "auth_per_minute and default_per_minute must be at least 1")
	}
	if c.RateLimit.RedisURL != "" {
		if u, err := url.Parse(c.RateLimit.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			e.add("ratelimit.redis_url", "must be a redis:// or rediss:// URL")
		}
	}
	if c.Credits.GroupCommitMaxBatch < 1 || c.Credits.GroupCommitMaxBatch > MaxGroupCommitBatch {
		e.add("credits.group_commit_max_batch", "must be between 1 and %d, not %d", MaxGroupCommitBatch, c.Credits.GroupCommitMaxBatch)
	}
	return e.err()
}

func (c *Config) validateServer(e *errs) {
	if _, _, err := net.SplitHostPort(c.Server.Addr); err != nil {
		e.add("server.addr", "must be host:port or :port: %v", err)
	}
	if c.Server.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.Server.MetricsAddr); err != nil {
			e.add("server.metrics_addr", "must be empty, host:port or :port: %v", err)
		}
	}
	for _, p := range c.Server.TrustedProxies {
		if _, err := proxyaddr.Parse([]string{p}); err != nil {
			e.add("server.trusted_proxies", "%v", err)
		}
	}
	for _, o := range c.Server.CORSAllowedOrigins {
		if u, err := url.Parse(o); o != "*" && (err != nil || u.Scheme == "" || u.Host == "") {
			e.add("server.cors_allowed_origins", "%q is not an origin like https://app.example.com", o)
		}
	}
	if c.Server.ShutdownGrace < 0 {
		e.add("server.shutdown_grace", "must not be negative")
	}
	if c.Server.ShutdownDelay < 0 {
		e.add("server.shutdown_delay", "must not be negative")
	}
}

func (c *Config) validateAuth(e *errs) {
	a := c.Auth
	switch {
	case a.SecretKey == "" && c.IsProduction():
		e.add("auth.secret_key", "required in production (at least %d bytes; set AUTHSVC_AUTH_SECRET_KEY or SECRET_KEY)", MinSecretBytes)
	case a.SecretKey != "" && len(a.SecretKey) < MinSecretBytes:
		e.add("auth.secret_key", "too short: %d bytes, need at least %d (generate one with: openssl rand -base64 48)", len(a.SecretKey), MinSecretBytes)
	}
	if a.Algorithm != "HS256" {
		e.add("auth.algorithm", "only HS256 is supported, not %q", a.Algorithm)
	}
	minCost := 10
	if c.Testing {
		minCost = 4
	}
	if a.BcryptCost < minCost || a.BcryptCost > domain.MaxBcryptCost {
		e.add("auth.bcrypt_cost", "must be between %d and %d, not %d", minCost, domain.MaxBcryptCost, a.BcryptCost)
	}
	if a.AccessTokenExpireMinutes < 1 {
		e.add("auth.access_token_expire_minutes", "must be at least 1")
	}
	if a.ResetTokenExpireMinutes < 1 {
		e.add("auth.reset_token_expire_minutes", "must be at least 1")
	}
	if a.VerifyTokenExpireHours < 1 {
		e.add("auth.verify_token_expire_hours", "must be at least 1")
	}
	if a.FailedLoginLimit < 1 {
		e.add("auth.failed_login_limit", "must be at least 1, not %d", a.FailedLoginLimit)
	}
	if a.FailedLoginWindow < time.Minute {
		e.add("auth.failed_login_window", "must be at least 1m, not %s", a.FailedLoginWindow)
	}
	if a.MaxSessionHours < 1 {
		e.add("auth.max_session_hours", "must be at least 1")
	}
	if a.Issuer == "" {
		e.add("auth.issuer", "must not be empty")
	}
	if a.KeyEncryptionKey != "" && len(a.KeyEncryptionKey) < MinSecretBytes {
		e.add("auth.key_encryption_key", "too short: %d bytes, need at least %d", len(a.KeyEncryptionKey), MinSecretBytes)
	}
	if a.KeyEncryptionKey != "" && a.KeyEncryptionKey == a.SecretKey {
		e.add("auth.key_encryption_key", "must differ from auth.secret_key")
	}
	if a.KeysRefreshInterval < 100*time.Millisecond || a.KeysRefreshInterval > 10*time.Second {
		e.add("auth.keys_refresh_interval", "must be between 100ms and 10s, not %s", a.KeysRefreshInterval)
	}
	if a.JWKSMaxAge < 0 || a.JWKSMaxAge > 24*time.Hour {
		e.add("auth.jwks_max_age", "must be between 0s and 24h, not %s", a.JWKSMaxAge)
	}
}

func (c *Config) validateMail(e *errs) {
	m := c.Mail
	switch m.Driver {
	case "log":
	case "smtp":
		if m.Host == "" {
			e.add("mail.host", "required when mail.driver is smtp")
		}
	default:
		e.add("mail.driver", "must be log or smtp, not %q", m.Driver)
	}
	if m.Port < 1 || m.Port > 65535 {
		e.add("mail.port", "must be between 1 and 65535, not %d", m.Port)
	}
	if _, err := mail.ParseAddress(m.From); err != nil {
		e.add("mail.from", "not an email address: %q", m.From)
	}
	if u, err := url.Parse(m.FrontendURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		e.add("mail.frontend_url", "must be an absolute http(s) URL, not %q", m.FrontendURL)
	}
	if m.MaxAttempts < 1 {
		e.add("mail.max_attempts", "must be at least 1")
	}
	if m.RetryBase <= 0 || m.RetryMax < m.RetryBase {
		e.add("mail.retry_base", "must be positive and at most mail.retry_max (got %s and %s)", m.RetryBase, m.RetryMax)
	}
}

// validateOIDC refuses a provider without an issuer it can stand behind:
// an absolute https URL (http only on a loopback host) without a path,
// query or fragment, and positive lifetimes.
func (c *Config) validateOIDC(e *errs) {
	o := c.OIDC
	for name, d := range map[string]time.Duration{"oidc.code_lifetime": o.CodeLifetime, "oidc.request_lifetime": o.RequestLifetime,
		"oidc.access_token_lifetime": o.AccessTokenLifetime, "oidc.id_token_lifetime": o.IDTokenLifetime,
		"oidc.refresh_token_lifetime": o.RefreshTokenLifetime, "oidc.session_lifetime": o.SessionLifetime} {
		if d <= 0 {
			e.add(name, "must be a positive duration (e.g. 15m), not %s", d)
		}
	}
	if !o.Enabled {
		return
	}
	if o.Issuer == "" {
		e.add("oidc.issuer", "is required when oidc.enabled is true: the public URL of authsvc, e.g. https://login.example.com")
		return
	}
	u, err := url.Parse(o.Issuer)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		e.add("oidc.issuer", "%q must be scheme://host[:port] with nothing after it", o.Issuer)
		return
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && domain.IsLoopbackHost(u.Hostname())) {
		e.add("oidc.issuer", "%q must be https (http only on a loopback host)", o.Issuer)
	}
}

// validateWebAuthn refuses passkeys without a relying party: rp_id a bare
// domain, at least one origin, each an exact scheme://host[:port] whose host
// is rp_id or under it (https, or http on localhost).
func (c *Config) validateWebAuthn(e *errs) {
	w := c.WebAuthn
	if !w.Enabled {
		return
	}
	rpID := strings.ToLower(w.RPID)
	if rpID == "" || strings.ContainsAny(rpID, ":/ ") {
		e.add("webauthn.rp_id", "must be a domain (e.g. example.com) when webauthn.enabled is true, not %q", w.RPID)
	}
	if strings.TrimSpace(w.RPName) == "" {
		e.add("webauthn.rp_name", "must not be empty when webauthn.enabled is true")
	}
	if len(w.Origins) == 0 {
		e.add("webauthn.origins", "list at least one origin (e.g. https://login.example.com) when webauthn.enabled is true")
	}
	for _, o := range w.Origins {
		u, err := url.Parse(o)
		if err != nil || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			e.add("webauthn.origins", "%q is not an origin (scheme://host[:port], nothing after)", o)
			continue
		}
		host := strings.ToLower(u.Hostname())
		if u.Scheme != "https" && !(u.Scheme == "http" && host == "localhost") {
			e.add("webauthn.origins", "%q must be https (http only on localhost)", o)
		}
		if rpID != "" && host != rpID && !strings.HasSuffix(host, "."+rpID) {
			e.add("webauthn.origins", "%q is not within webauthn.rp_id %q", o, w.RPID)
		}
	}
}
