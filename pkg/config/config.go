// Package config loads authsvc's configuration with viper from, strongest
// first: command-line flags, the environment (AUTHSVC_<SECTION>_<KEY> and the
// original service's names), a YAML file, and the defaults. It is the only
// package that imports viper; everything else receives a plain Config.
package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Config is the whole configuration (config.example.yaml lists every key).
type Config struct {
	Environment string          `mapstructure:"environment"`
	Server      ServerConfig    `mapstructure:"server"`
	Database    DatabaseConfig  `mapstructure:"database"`
	Auth        AuthConfig      `mapstructure:"auth"`
	Mail        MailConfig      `mapstructure:"mail"`
	Log         LogConfig       `mapstructure:"log"`
	RateLimit   RateLimitConfig `mapstructure:"ratelimit"`
	Credits     CreditsConfig   `mapstructure:"credits"`
	Audit       AuditConfig     `mapstructure:"audit"`
	APIKeys     APIKeysConfig   `mapstructure:"api_keys"`
	// WebAuthn is passkeys (sign-in with a security key or a platform
	// authenticator).
	WebAuthn WebAuthnConfig `mapstructure:"webauthn"`
	// OIDC is the OpenID Connect provider: other apps sign their users in
	// through authsvc's hosted pages.
	OIDC OIDCConfig `mapstructure:"oidc"`
	// IdentityProviders are the upstream providers people may sign in
	// with (Google, Microsoft Entra, GitHub, any OpenID Connect provider).
	IdentityProviders []IdentityProviderConfig `mapstructure:"identity_providers"`

	// Testing allows bcrypt costs below 10. It is read only from the
	// environment variable AUTHSVC_TESTING=1, never from a file or flag.
	Testing bool `mapstructure:"-"`
	// File is the configuration file that was read, "" when none.
	File string `mapstructure:"-"`
	// EnvFile is the dotenv file that was read, "" when none.
	EnvFile string `mapstructure:"-"`
	// Notices are environment names that are set but not used, one line
	// each (e.g. "LOG_RETENTION is not used: …"); serve logs them at startup.
	Notices []string `mapstructure:"-"`
}

// ServerConfig is the HTTP listener.
type ServerConfig struct {
	Addr               string        `mapstructure:"addr"`
	MetricsAddr        string        `mapstructure:"metrics_addr"`
	TrustedProxies     []string      `mapstructure:"trusted_proxies"`
	CORSAllowedOrigins []string      `mapstructure:"cors_allowed_origins"`
	ShutdownGrace      time.Duration `mapstructure:"shutdown_grace"`
	// ShutdownDelay is how long, after SIGTERM, /readyz answers 503 while
	// the listener still accepts, so load balancers stop sending first
	// (not after Ctrl-C: see serve).
	ShutdownDelay time.Duration `mapstructure:"shutdown_delay"`
	// PublicURL is where browsers reach authsvc (scheme://host[:port]); the
	// identity providers' callbacks are under it. Empty: oidc.issuer.
	PublicURL string `mapstructure:"public_url"`
}

// DatabaseConfig selects and sizes the database.
type DatabaseConfig struct {
	URL          string `mapstructure:"url"`
	AutoMigrate  bool   `mapstructure:"auto_migrate"`
	MaxOpenConns int    `mapstructure:"max_open_conns"`
	MaxIdleConns int    `mapstructure:"max_idle_conns"`
	// QueryTimeout bounds every database call of a request, even against a
	// frozen server.
	QueryTimeout time.Duration `mapstructure:"query_timeout"`
	// PreparedStatements is "on" (named server-side statements on the hot
	// paths) or "off" (unnamed statements only: PgBouncer in transaction
	// mode and other transaction poolers).
	PreparedStatements string `mapstructure:"prepared_statements"`
	// SQLiteSynchronous is SQLite's synchronous pragma: FULL (durable when
	// acknowledged), EXTRA, or NORMAL (faster; an OS crash can roll back
	// the last commits).
	SQLiteSynchronous string `mapstructure:"sqlite_synchronous"`
}

// AuthConfig covers passwords and tokens.
type AuthConfig struct {
	SecretKey                string `mapstructure:"secret_key"`
	Algorithm                string `mapstructure:"algorithm"`
	AccessTokenExpireMinutes int    `mapstructure:"access_token_expire_minutes"`
	ResetTokenExpireMinutes  int    `mapstructure:"reset_token_expire_minutes"`
	BcryptCost               int    `mapstructure:"bcrypt_cost"`
	Issuer                   string `mapstructure:"issuer"`
	Audience                 string `mapstructure:"audience"`
	MaxSessionHours          int    `mapstructure:"max_session_hours"`
	// KeyEncryptionKey seals the private signing keys in the database (at
	// least 32 bytes; required once an asymmetric signing key exists).
	KeyEncryptionKey string `mapstructure:"key_encryption_key"`
	// KeysRefreshInterval is how often each replica re-reads the signing keys.
	KeysRefreshInterval time.Duration `mapstructure:"keys_refresh_interval"`
	// JWKSMaxAge is the Cache-Control max-age of /.well-known/jwks.json.
	JWKSMaxAge time.Duration `mapstructure:"jwks_max_age"`
	// RefuseSecretTokens stops HS256 access tokens from verifying once the
	// first asymmetric key has been active for an access-token lifetime, and
	// refuses access tokens without sid.
	RefuseSecretTokens     bool `mapstructure:"refuse_secret_tokens"`
	RequireVerifiedEmail   bool `mapstructure:"require_verified_email"`
	VerifyTokenExpireHours int  `mapstructure:"verify_token_expire_hours"`
	// MFARequiredForAdmins limits an admin without a second factor to the
	// enrolment endpoints until they enrol.
	MFARequiredForAdmins bool `mapstructure:"mfa_required_for_admins"`
	// FailedLoginLimit failed logins (and second-factor codes) per username
	// within FailedLoginWindow are allowed; then 429 until the window ends.
	FailedLoginLimit  int           `mapstructure:"failed_login_limit"`
	FailedLoginWindow time.Duration `mapstructure:"failed_login_window"`
	// RedirectAllowList are where a sign-in through an identity provider
	// may send the browser back to (redirect_to): exact URLs, or prefixes
	// ending in /*.
	RedirectAllowList []string `mapstructure:"redirect_allow_list"`
}

// MailConfig covers outbound email.
type MailConfig struct {
	Driver       string `mapstructure:"driver"`
	Host         string `mapstructure:"host"`
	Port         int    `mapstructure:"port"`
	Username     string `mapstructure:"username"`
	Password     string `mapstructure:"password"`
	From         string `mapstructure:"from"`
	SSLTLS       bool   `mapstructure:"ssl_tls"`
	StartTLS     bool   `mapstructure:"starttls"`
	FrontendURL  string `mapstructure:"frontend_url"`
	TemplatesDir string `mapstructure:"templates_dir"`
	MaxAttempts  int    `mapstructure:"max_attempts"`
	// RetryBase and RetryMax shape the retry backoff: RetryBase after the
	// first failure, doubling up to RetryMax, half of each wait jitter.
	RetryBase time.Duration `mapstructure:"retry_base"`
	RetryMax  time.Duration `mapstructure:"retry_max"`
}

// LogConfig covers logging and log shipping.
type LogConfig struct {
	Level        string `mapstructure:"level"`
	Format       string `mapstructure:"format"`
	LogstashAddr string `mapstructure:"logstash_addr"`
}

// RateLimitConfig covers the per-IP limits.
type RateLimitConfig struct {
	Enabled          bool   `mapstructure:"enabled"`
	AuthPerMinute    int    `mapstructure:"auth_per_minute"`
	DefaultPerMinute int    `mapstructure:"default_per_minute"`
	RedisURL         string `mapstructure:"redis_url"`
}

// CreditsConfig covers the ledger.
type CreditsConfig struct {
	UserSelfAdd bool `mapstructure:"user_self_add"`
	// GroupCommit applies concurrent debits and new holds of one account
	// together, in one transaction (PostgreSQL only; SQLite applies each alone).
	GroupCommit bool `mapstructure:"group_commit"`
	// GroupCommitMaxBatch bounds the debits and holds one group commit applies.
	GroupCommitMaxBatch int `mapstructure:"group_commit_max_batch"`
}

// APIKeysConfig covers POST /keys/verify.
type APIKeysConfig struct {
	// VerifierSecrets are the bearer secrets services call POST /keys/verify
	// with (at least 32 bytes each; several, to rotate one at a time). None:
	// the endpoint accepts only OpenID Connect client-credentials tokens
	// with the keys:verify scope, where that provider is enabled.
	VerifierSecrets []string `mapstructure:"verifier_secrets"`
}

// MaxGroupCommitBatch is the largest credits.group_commit_max_batch accepted
// (one multi-row INSERT carries 8 parameters a row).
const MaxGroupCommitBatch = 1000

// PreparedStatementsOn reports database.prepared_statements: on (also true,
// yes, 1, as YAML booleans arrive) or off (false, no, 0).
func (c *Config) PreparedStatementsOn() bool {
	on, _ := onOff(c.Database.PreparedStatements)
	return on
}

// onOff reads an on/off setting; ok is false for anything else.
func onOff(v string) (on, ok bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on", "true", "yes", "1":
		return true, true
	case "off", "false", "no", "0":
		return false, true
	}
	return false, false
}

// AuditConfig covers the audit trail.
type AuditConfig struct {
	RetentionDays int `mapstructure:"retention_days"`
}

// AuditRetention is how long audit events are kept.
func (c *Config) AuditRetention() time.Duration {
	return time.Duration(c.Audit.RetentionDays) * 24 * time.Hour
}

// AccessTTL is the access-token lifetime.
func (c *Config) AccessTTL() time.Duration {
	return time.Duration(c.Auth.AccessTokenExpireMinutes) * time.Minute
}

// ResetTTL is the password-reset-token lifetime.
func (c *Config) ResetTTL() time.Duration {
	return time.Duration(c.Auth.ResetTokenExpireMinutes) * time.Minute
}

// MaxSession is how long refresh may extend a login.
func (c *Config) MaxSession() time.Duration {
	return time.Duration(c.Auth.MaxSessionHours) * time.Hour
}

// VerifyTTL is the lifetime of email verification links.
func (c *Config) VerifyTTL() time.Duration {
	return time.Duration(c.Auth.VerifyTokenExpireHours) * time.Hour
}

// IsProduction reports environment: production.
func (c *Config) IsProduction() bool { return c.Environment == "production" }

// Defaults lists every key with its default value. config.example.yaml
// mirrors it (a test keeps the two in step).
func Defaults() map[string]any {
	return map[string]any{
		"environment":                      "development",
		"server.addr":                      ":8080",
		"server.metrics_addr":              "",
		"server.trusted_proxies":           []string{},
		"server.cors_allowed_origins":      []string{},
		"server.public_url":                "",
		"auth.redirect_allow_list":         []string{},
		"server.shutdown_grace":            "15s",
		"server.shutdown_delay":            "5s",
		"database.url":                     "sqlite:authsvc.db",
		"database.auto_migrate":            true,
		"database.max_open_conns":          32,
		"database.max_idle_conns":          32,
		"database.query_timeout":           "5s",
		"database.prepared_statements":     "on",
		"database.sqlite_synchronous":      "FULL",
		"auth.secret_key":                  "",
		"auth.algorithm":                   "HS256",
		"auth.access_token_expire_minutes": 60,
		"auth.reset_token_expire_minutes":  30,
		"auth.bcrypt_cost":                 12,
		"auth.issuer":                      "authsvc",
		"auth.audience":                    "",
		"auth.max_session_hours":           int(domain.DefaultMaxSession / time.Hour),
		"auth.key_encryption_key":          "",
		"auth.keys_refresh_interval":       durationText(domain.DefaultKeysRefreshInterval),
		"auth.jwks_max_age":                "5m",
		"auth.refuse_secret_tokens":        false,
		"auth.require_verified_email":      false,
		"auth.mfa_required_for_admins":     false,
		"auth.verify_token_expire_hours":   int(domain.DefaultVerifyTTL / time.Hour),
		"auth.failed_login_limit":          domain.DefaultFailedLoginLimit,
		"auth.failed_login_window":         durationText(domain.DefaultFailedLoginWindow),
		"mail.driver":                      "",
		"mail.host":                        "",
		"mail.port":                        587,
		"mail.username":                    "",
		"mail.password":                    "",
		"mail.from":                        "noreply@localhost",
		"mail.ssl_tls":                     false,
		"mail.starttls":                    true,
		"mail.frontend_url":                domain.DefaultFrontendURL,
		"mail.templates_dir":               "",
		"mail.max_attempts":                8,
		"mail.retry_base":                  "15s",
		"mail.retry_max":                   "15m",
		"log.level":                        "info",
		"log.format":                       "",
		"log.logstash_addr":                "",
		"ratelimit.enabled":                true,
		"ratelimit.auth_per_minute":        100,
		"ratelimit.default_per_minute":     1000,
		"ratelimit.redis_url":              "",
		"credits.user_self_add":            false,
		"credits.group_commit":             true,
		"credits.group_commit_max_batch":   domain.DefaultGroupCommitMaxBatch,
		"audit.retention_days":             int(domain.DefaultAuditRetention / (24 * time.Hour)),
		"api_keys.verifier_secrets":        []string{},
		"webauthn.enabled":                 false,
		"webauthn.rp_id":                   "",
		"webauthn.rp_name":                 "authsvc",
		"webauthn.origins":                 []string{},
		"oidc.enabled":                     false,
		"oidc.issuer":                      "",
		"oidc.allow_sign_up":               false,
		"oidc.code_lifetime":               "1m",
		"oidc.request_lifetime":            "30m",
		"oidc.access_token_lifetime":       "15m",
		"oidc.id_token_lifetime":           "1h",
		"oidc.refresh_token_lifetime":      "720h",
		"oidc.session_lifetime":            "24h",
		// A list of maps, from the YAML file only (docs/federation.md).
		"identity_providers": []any{},
	}
}

// durationText writes d as a person would in a config file: 1h, 15m, 90s.
func durationText(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// legacyEnv maps keys to the original Python service's environment names.
// AUTHSVC_* names are bound first, so they win where both are set.
var legacyEnv = map[string]string{
	"environment":                      "ENVIRONMENT",
	"database.url":                     "DATABASE_URL",
	"auth.secret_key":                  "SECRET_KEY",
	"auth.algorithm":                   "ALGORITHM",
	"auth.access_token_expire_minutes": "ACCESS_TOKEN_EXPIRE_MINUTES",
	"mail.host":                        "MAIL_SERVER",
	"mail.port":                        "MAIL_PORT",
	"mail.username":                    "MAIL_USERNAME",
	"mail.password":                    "MAIL_PASSWORD",
	"mail.from":                        "MAIL_FROM",
	"mail.ssl_tls":                     "MAIL_SSL_TLS",
	"mail.starttls":                    "MAIL_STARTTLS",
	"mail.frontend_url":                "FRONTEND_URL",
	"log.level":                        "LOG_LEVEL",
}

// EnvName is the AUTHSVC_* environment variable of a key.
func EnvName(key string) string {
	return "AUTHSVC_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Options say where Load looks.
type Options struct {
	// File is an explicit config file (--config); it must exist. When empty,
	// ./config.yaml then /etc/authsvc/config.yaml are tried.
	File string
	// Flags binds command-line flags to keys: flag name → key. Only flags the
	// user set override the other sources.
	Flags    *pflag.FlagSet
	FlagKeys map[string]string
	// EnvFile is an explicit dotenv file (--env-file); it must exist. When
	// empty, ./.env is read if present. Its names count as environment
	// variables, but the real environment wins over them.
	EnvFile string
}

// Load reads the configuration and validates it.
func Load(opts Options) (*Config, error) {
	env, err := readEnvironment(opts.EnvFile)
	if err != nil {
		return nil, err
	}
	v := viper.New()
	for key, val := range Defaults() {
		v.SetDefault(key, val)
	}
	for key := range Defaults() {
		names := append([]string{key}, envNames(key)...)
		if err := v.BindEnv(names...); err != nil {
			return nil, fmt.Errorf("bind environment for %s: %w", key, err)
		}
	}
	if opts.Flags != nil {
		for flag, key := range opts.FlagKeys {
			if f := opts.Flags.Lookup(flag); f != nil {
				if err := v.BindPFlag(key, f); err != nil {
					return nil, fmt.Errorf("bind flag --%s: %w", flag, err)
				}
			}
		}
	}
	file, err := readFile(v, opts.File)
	if err != nil {
		return nil, err
	}
	applyDotenv(v, env, opts)
	applyLegacyLogEnv(v, env)

	cfg := &Config{File: file, EnvFile: env.file, Notices: env.notices(),
		Testing: os.Getenv("AUTHSVC_TESTING") == "1"}
	// Exact: a misspelt key in the file is an error, not silently ignored.
	if err := v.UnmarshalExact(cfg); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg.Server.TrustedProxies = splitList(cfg.Server.TrustedProxies)
	cfg.Server.CORSAllowedOrigins = splitList(cfg.Server.CORSAllowedOrigins)
	cfg.APIKeys.VerifierSecrets = splitList(cfg.APIKeys.VerifierSecrets)
	cfg.WebAuthn.Origins = splitList(cfg.WebAuthn.Origins)
	cfg.Auth.RedirectAllowList = splitList(cfg.Auth.RedirectAllowList)
	if cfg.Mail.Driver == "" { // MAIL_SERVER alone means: send through it
		cfg.Mail.Driver = "log"
		if cfg.Mail.Host != "" {
			cfg.Mail.Driver = "smtp"
		}
	}
	if cfg.Log.Format == "" {
		cfg.Log.Format = "console"
		if cfg.Environment != "development" {
			cfg.Log.Format = "json"
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func readFile(v *viper.Viper, explicit string) (string, error) {
	v.SetConfigType("yaml")
	if explicit != "" {
		v.SetConfigFile(explicit)
		if err := v.ReadInConfig(); err != nil {
			return "", fmt.Errorf("config file %s: %w", explicit, err)
		}
		return explicit, nil
	}
	for _, candidate := range []string{"config.yaml", "/etc/authsvc/config.yaml"} {
		if _, err := os.Stat(candidate); err != nil {
			continue
		}
		v.SetConfigFile(candidate)
		if err := v.ReadInConfig(); err != nil {
			return "", fmt.Errorf("config file %s: %w", candidate, err)
		}
		return candidate, nil
	}
	return "", nil
}

// applyDotenv gives keys the values of the dotenv file where the real
// environment sets none of their names and no flag was given: the dotenv
// file ranks with the environment, below flags and above the YAML file.
func applyDotenv(v *viper.Viper, env *environment, opts Options) {
	flagged := map[string]bool{}
	if opts.Flags != nil {
		for flag, key := range opts.FlagKeys {
			if f := opts.Flags.Lookup(flag); f != nil && f.Changed {
				flagged[key] = true
			}
		}
	}
	for key := range Defaults() {
		if flagged[key] {
			continue
		}
		names := envNames(key)
		inReal := false
		for _, n := range names {
			if _, ok := os.LookupEnv(n); ok {
				inReal = true
			}
		}
		if inReal {
			continue // viper's BindEnv reads it
		}
		for _, n := range names {
			if val, ok := env.dotenv[n]; ok {
				v.Set(key, val)
				break
			}
		}
	}
}

// applyLegacyLogEnv honours the original's JSON_LOGS, ENABLE_LOGSTASH,
// SYSLOG_HOST and SYSLOG_PORT unless the AUTHSVC_* names are set.
func applyLegacyLogEnv(v *viper.Viper, env *environment) {
	if _, set := env.lookup(EnvName("log.format")); !set {
		if on, err := strconv.ParseBool(env.get("JSON_LOGS")); err == nil && on {
			v.Set("log.format", "json")
		}
	}
	if _, set := env.lookup(EnvName("log.logstash_addr")); !set {
		on, err := strconv.ParseBool(env.get("ENABLE_LOGSTASH"))
		host := env.get("SYSLOG_HOST")
		if err == nil && on && host != "" {
			port := env.get("SYSLOG_PORT")
			if port == "" {
				port = "5141"
			}
			v.Set("log.logstash_addr", host+":"+port)
		}
	}
}

// splitList lets list keys come from the environment as "a,b,c".
func splitList(in []string) []string {
	out := []string{}
	for _, item := range in {
		for _, part := range strings.Split(item, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// errs collects validation problems so that every one is reported at once.
type errs []error

func (e *errs) add(key, format string, args ...any) {
	*e = append(*e, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
}

func (e errs) err() error { return errors.Join(e...) }

// OIDCConfig is the OpenID Connect provider. Issuer is its public URL (the
// iss of its tokens; https unless the host is loopback). The lifetimes:
// a code from its issue to its redemption; a sign-in request from the
// redirect to authsvc to its code; the tokens; the browser session behind
// single sign-on.
type OIDCConfig struct {
	Enabled              bool          `mapstructure:"enabled"`
	Issuer               string        `mapstructure:"issuer"`
	AllowSignUp          bool          `mapstructure:"allow_sign_up"`
	CodeLifetime         time.Duration `mapstructure:"code_lifetime"`
	RequestLifetime      time.Duration `mapstructure:"request_lifetime"`
	AccessTokenLifetime  time.Duration `mapstructure:"access_token_lifetime"`
	IDTokenLifetime      time.Duration `mapstructure:"id_token_lifetime"`
	RefreshTokenLifetime time.Duration `mapstructure:"refresh_token_lifetime"`
	SessionLifetime      time.Duration `mapstructure:"session_lifetime"`
}

// WebAuthnConfig is passkeys. RPID is the relying party's domain (e.g.
// example.com); Origins the exact origins the browser pages run at (e.g.
// https://login.example.com), every one inside RPID.
type WebAuthnConfig struct {
	Enabled bool     `mapstructure:"enabled"`
	RPID    string   `mapstructure:"rp_id"`
	RPName  string   `mapstructure:"rp_name"`
	Origins []string `mapstructure:"origins"`
}
