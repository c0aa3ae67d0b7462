package tldw

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Config is the whole configuration of an [App]. Build it with [DefaultConfig] or [FromEnv],
// adjust fields if needed, and check it with [Config.Validate]. A Config is a plain value:
// copying it is safe, and it is safe for concurrent reads.
//
// The keys FromEnv reads, one line each: key, field, default ("-" = empty) and meaning,
// grouped as in the deployment guide. The table is rendered from configKeys (the same table
// that drives FromEnv and Redacted); TestConfigDocTable fails and prints the new text when
// the two differ.
//
//	# Server
//	AUTH_MODE                           AuthMode           multi_user      multi_user (accounts, JWT) or single_user (one API key).
//	PROFILE                             Profile            -               Deployment profile name; informational only.
//	TLDW_ADDR                           Addr               127.0.0.1:8000  host:port the server listens on.
//	TLDW_DATA_DIR                       DataDir            ./tldw-data     Directory for the default SQLite database, media, temp files and generated secrets.
//	SERVER_READ_HEADER_TIMEOUT_SECONDS  ReadHeaderTimeout  10              Seconds to read request headers.
//	SERVER_READ_TIMEOUT_SECONDS         ReadTimeout        600             Seconds to read a whole request, body included.
//	SERVER_WRITE_TIMEOUT_SECONDS        WriteTimeout       600             Seconds to write a response.
//	SERVER_IDLE_TIMEOUT_SECONDS         IdleTimeout        120             Seconds a keep-alive connection may stay idle.
//	SERVER_MAX_HEADER_BYTES             MaxHeaderBytes     65536           Largest request header block in bytes.
//	SHUTDOWN_DELAY_SECONDS              ShutdownDelay      0               Seconds /ready answers 503 before the listener closes (for load balancers).
//	SHUTDOWN_DRAIN_SECONDS              DrainTimeout       30              Seconds in-flight requests get to finish on shutdown.
//
//	# Database
//	DATABASE_URL            DatabaseURL          -     sqlite:PATH, sqlite:///PATH, sqlite::memory:, postgres:// or postgresql:// URL; empty = sqlite:<TLDW_DATA_DIR>/tldw.db.
//	DATABASE_POOL_SIZE      DatabasePoolSize     20    Maximum open database connections. Alias: DATABASE_POOL_MAX_SIZE.
//	DATABASE_MAX_OVERFLOW   DatabaseMaxOverflow  10    Extra connections allowed above the pool size under load.
//	DATABASE_POOL_MIN_SIZE  DatabasePoolMinSize  5     Connections kept open when idle.
//	TLDW_AUTO_MIGRATE       AutoMigrate          true  Apply pending schema migrations at startup.
//
//	# Redis
//	REDIS_URL              RedisURL             -     redis://, rediss:// or unix:// URL; empty = no Redis (single replica).
//	REDIS_MAX_CONNECTIONS  RedisMaxConnections  50    Maximum Redis connections.
//	CACHE_TTL_SECONDS      CacheTTL             300   Seconds cached lookups live.
//	SESSION_CACHE_TTL      SessionCacheTTL      3600  Seconds cached session checks live.
//
//	# JWT Security
//	JWT_SECRET_KEY               JWTSecretKey           -         HS256 signing secret, at least 32 characters; empty = generated once and stored in TLDW_DATA_DIR.
//	JWT_ALGORITHM                JWTAlgorithm           HS256     HS256, RS256, ES256 or EdDSA.
//	JWT_PRIVATE_KEY              JWTPrivateKeyFile      -         PEM private key file; required unless JWT_ALGORITHM=HS256.
//	JWT_PUBLIC_KEY               JWTPublicKeyFile       -         PEM public key file; required unless JWT_ALGORITHM=HS256.
//	JWT_PREVIOUS_SECRET_KEYS     JWTPreviousSecretKeys  -         Comma-separated retired secrets still accepted for verification. JWT_SECONDARY_SECRET is appended.
//	JWT_ISSUER                   JWTIssuer              tldw      iss claim set and required on tokens.
//	JWT_AUDIENCE                 JWTAudience            tldw-api  aud claim set and required on tokens.
//	ACCESS_TOKEN_EXPIRE_MINUTES  AccessTokenExpire      30        Access-token lifetime in minutes.
//	REFRESH_TOKEN_EXPIRE_DAYS    RefreshTokenExpire     7         Refresh-token lifetime in days.
//	ROTATE_REFRESH_TOKENS        RotateRefreshTokens    true      Issue a new refresh token on every refresh.
//	API_KEY_PEPPER               APIKeyPepper           -         Key hashing personal API keys, at least 32 characters; empty = generated once and stored in TLDW_DATA_DIR. Replicas must share it.
//
//	# Single-user mode
//	SINGLE_USER_API_KEY      SingleUserAPIKey      -  The API key in single_user mode: at least 16 characters, 24 when TLDW_ADDR is not loopback. Alias: API_KEY.
//	SINGLE_USER_FIXED_ID     SingleUserFixedID     1  User id of the single user.
//	SINGLE_USER_ALLOWED_IPS  SingleUserAllowedIPs  -  Comma-separated IPs/CIDRs allowed in single_user mode; empty = any.
//
//	# Registration
//	ENABLE_REGISTRATION                    EnableRegistration                 false  Allow self-registration.
//	REQUIRE_REGISTRATION_CODE              RequireRegistrationCode            true   Self-registration needs a registration code.
//	DEFAULT_USER_ROLE                      DefaultUserRole                    user   Role of new users: user or moderator.
//	DEFAULT_STORAGE_QUOTA_MB               DefaultStorageQuotaMB              5120   Storage quota of new users in MB; 0 = unlimited.
//	REGISTRATION_CODE_DEFAULT_EXPIRY_DAYS  RegistrationCodeDefaultExpiryDays  7      Days a new registration code stays valid.
//	REGISTRATION_CODE_DEFAULT_MAX_USES     RegistrationCodeDefaultMaxUses     1      Uses a new registration code allows.
//	MAX_BATCH_REGISTRATION_CODES           MaxBatchRegistrationCodes          100    Most codes one batch request may create.
//
//	# Passwords and lockout
//	PASSWORD_MIN_LENGTH               PasswordMinLength     10     Minimum password length (at least 8).
//	ARGON2_MEMORY_COST                Argon2MemoryKiB       32768  Argon2id memory in KiB (at least 8192).
//	ARGON2_TIME_COST                  Argon2Time            2      Argon2id iterations.
//	ARGON2_PARALLELISM                Argon2Parallelism     1      Argon2id lanes.
//	PASSWORD_HISTORY_RETENTION_COUNT  PasswordHistoryCount  5      Earlier passwords a new one may not repeat.
//	MAX_LOGIN_ATTEMPTS                MaxLoginAttempts      5      Failed logins before a lockout.
//	LOCKOUT_DURATION_MINUTES          LockoutDuration       15     Lockout length in minutes.
//	MAX_SESSIONS_PER_USER             MaxSessionsPerUser    20     Active sessions per user; the oldest is ended beyond this.
//
//	# Rate Limiting
//	RATE_LIMIT_ENABLED       RateLimitEnabled  true        Enforce request rate limits.
//	AUTH_RATE_LIMIT          AuthRateLimit     5/minute    Per-IP limit on login, registration, token refresh and password changes (N/second|minute|hour|day).
//	API_RATE_LIMIT           APIRateLimit      100/minute  Per-user (or per-API-key) limit on other authenticated API calls (N/second|minute|hour|day).
//	TRUSTED_PROXIES          TrustedProxies    -           Comma-separated IPs/CIDRs whose X-Forwarded-For / X-Real-IP is trusted.
//	RATE_LIMIT_EXEMPT_ROLES  RateLimitExempt   -           Comma-separated roles (admin, moderator, service, user) exempt from API_RATE_LIMIT.
//
//	# CORS
//	ALLOWED_ORIGINS         AllowedOrigins        -      Comma-separated browser origins (https://host[:port]) or *.
//	CORS_ALLOW_CREDENTIALS  CORSAllowCredentials  false  Let browsers send cookies/credentials cross-origin (not with *).
//	DISABLE_CORS            DisableCORS           false  Send no CORS headers at all.
//
//	# Storage
//	MEDIA_STORAGE_PATH     MediaStoragePath  -    Directory for media files; empty = <TLDW_DATA_DIR>/media.
//	MEDIA_STORAGE_URL      MediaStorageURL   -    Object storage instead of the directory: file://PATH or s3://BUCKET/PREFIX.
//	TEMP_PATH              TempPath          -    Directory for temporary files; empty = <TLDW_DATA_DIR>/temp.
//	MAX_UPLOAD_SIZE_MB     MaxUploadSizeMB   500  Largest upload in MB.
//	S3_ENDPOINT            S3Endpoint        -    host[:port] of the S3 API when MEDIA_STORAGE_URL is s3:// (empty = AWS; MinIO, R2 ...).
//	AWS_REGION             S3Region          -    S3 region.
//	AWS_ACCESS_KEY_ID      S3AccessKey       -    S3 access key id; empty = anonymous.
//	AWS_SECRET_ACCESS_KEY  S3SecretKey       -    S3 secret access key.
//
//	# Logging
//	LOG_LEVEL                          LogLevel                 INFO  DEBUG, INFO, WARNING, ERROR (CRITICAL = ERROR).
//	LOG_FORMAT                         LogFormat                text  text or json.
//	LOG_FILE                           LogFile                  -     Log file; empty = standard error.
//	AUDIT_LOG_FILE                     AuditLogFile             -     Audit log file in addition to the database; empty = none.
//	AUDIT_LOG_FORMAT                   AuditLogFormat           text  text or json.
//	AUDIT_LOG_RETENTION_DAYS           AuditLogRetentionDays    180   Days audit rows are kept; 0 = forever.
//	AUDIT_CHECKPOINT_INTERVAL_SECONDS  AuditCheckpointInterval  300   Seconds between signed audit-chain head checkpoints (also written on shutdown).
//	AUDIT_HMAC_KEY                     AuditHMACKey             -     Key signing audit checkpoints, at least 32 characters; empty = generated once and stored in TLDW_DATA_DIR. Replicas must share it.
//
//	# Security settings
//	SECURE_COOKIES           SecureCookies          false                                       Mark cookies Secure (set true behind TLS). Alias: SESSION_COOKIE_SECURE.
//	SESSION_COOKIE_HTTPONLY  SessionCookieHTTPOnly  true                                        Mark cookies HttpOnly.
//	SESSION_COOKIE_SAMESITE  SessionCookieSameSite  lax                                         strict, lax or none (none needs SECURE_COOKIES=true).
//	AUTH_COOKIES             AuthCookies            false                                       Also accept and set login cookies for browser clients.
//	TRUSTED_HOSTS            TrustedHosts           -                                           Comma-separated Host header values accepted; empty = any.
//	CSP_DIRECTIVES           CSPDirectives          default-src 'none'; frame-ancestors 'none'  Content-Security-Policy of API responses.
//
//	# Monitoring
//	ENABLE_METRICS           EnableMetrics        true  Serve Prometheus metrics.
//	METRICS_ALLOWED_CIDRS    MetricsAllowedCIDRs  -     Comma-separated IPs/CIDRs that may read metrics besides loopback.
//	METRICS_TOKEN            MetricsToken         -     Bearer token that may read metrics from anywhere.
//	HEALTH_MIN_FREE_DISK_MB  HealthMinFreeDiskMB  1024  /api/v1/health reports degraded below this much free disk in TLDW_DATA_DIR, in MB.
//
//	# Bootstrap admin
//	TLDW_ADMIN_USERNAME  AdminUsername  -  Username of the admin created on first start.
//	TLDW_ADMIN_EMAIL     AdminEmail     -  Email of the admin created on first start.
//	TLDW_ADMIN_PASSWORD  AdminPassword  -  Password of the admin created on first start.
type Config struct {
	AuthMode          string
	Profile           string
	Addr              string
	DataDir           string
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	ShutdownDelay     time.Duration
	DrainTimeout      time.Duration

	DatabaseURL         DSN
	DatabasePoolSize    int
	DatabaseMaxOverflow int
	DatabasePoolMinSize int
	AutoMigrate         bool

	RedisURL            DSN
	RedisMaxConnections int
	CacheTTL            time.Duration
	SessionCacheTTL     time.Duration

	JWTSecretKey          Secret
	JWTAlgorithm          string
	JWTPrivateKeyFile     string
	JWTPublicKeyFile      string
	JWTPreviousSecretKeys []Secret
	JWTIssuer             string
	JWTAudience           string
	AccessTokenExpire     time.Duration
	RefreshTokenExpire    time.Duration
	RotateRefreshTokens   bool
	// APIKeyPepper keys the hashes of personal API keys (and derived refresh tokens); empty =
	// generated once into the data directory. Replicas must share it.
	APIKeyPepper Secret

	SingleUserAPIKey     Secret
	SingleUserFixedID    int64
	SingleUserAllowedIPs []netip.Prefix

	EnableRegistration                bool
	RequireRegistrationCode           bool
	DefaultUserRole                   string
	DefaultStorageQuotaMB             int64
	RegistrationCodeDefaultExpiryDays int
	RegistrationCodeDefaultMaxUses    int
	MaxBatchRegistrationCodes         int

	PasswordMinLength    int
	Argon2MemoryKiB      uint32
	Argon2Time           uint32
	Argon2Parallelism    uint8
	PasswordHistoryCount int
	MaxLoginAttempts     int
	LockoutDuration      time.Duration
	MaxSessionsPerUser   int

	RateLimitEnabled bool
	AuthRateLimit    Rate
	APIRateLimit     Rate
	TrustedProxies   []netip.Prefix
	RateLimitExempt  []string

	AllowedOrigins       []string
	CORSAllowCredentials bool
	DisableCORS          bool

	MediaStoragePath string
	MediaStorageURL  string
	// S3Endpoint, S3Region, S3AccessKey and S3SecretKey reach the bucket of an s3://
	// MEDIA_STORAGE_URL.
	S3Endpoint, S3Region, S3AccessKey string
	S3SecretKey                       Secret
	TempPath                          string
	MaxUploadSizeMB                   int64

	LogLevel              slog.Level
	LogFormat             string
	LogFile               string
	AuditLogFile          string
	AuditLogFormat        string
	AuditLogRetentionDays int
	// AuditCheckpointInterval is how often a signed head checkpoint is written.
	AuditCheckpointInterval time.Duration
	// AuditHMACKey signs audit checkpoints; empty = generated into the data directory.
	AuditHMACKey Secret

	SecureCookies         bool
	SessionCookieHTTPOnly bool
	SessionCookieSameSite string
	AuthCookies           bool
	TrustedHosts          []string
	CSPDirectives         string

	EnableMetrics       bool
	MetricsAllowedCIDRs []netip.Prefix
	MetricsToken        Secret
	HealthMinFreeDiskMB int64

	AdminUsername string
	AdminEmail    string
	AdminPassword Secret
}

// DefaultConfig returns the configuration used when no key is set: multi-user mode with
// SQLite, media and generated secrets under ./tldw-data, listening on 127.0.0.1:8000.
func DefaultConfig() Config {
	return Config{
		AuthMode:          "multi_user",
		Addr:              "127.0.0.1:8000",
		DataDir:           "./tldw-data",
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       600 * time.Second,
		WriteTimeout:      600 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    65536,
		DrainTimeout:      30 * time.Second,

		DatabasePoolSize:    20,
		DatabaseMaxOverflow: 10,
		DatabasePoolMinSize: 5,
		AutoMigrate:         true,

		RedisMaxConnections: 50,
		CacheTTL:            300 * time.Second,
		SessionCacheTTL:     3600 * time.Second,

		JWTAlgorithm:        "HS256",
		JWTIssuer:           "tldw",
		JWTAudience:         "tldw-api",
		AccessTokenExpire:   30 * time.Minute,
		RefreshTokenExpire:  7 * 24 * time.Hour,
		RotateRefreshTokens: true,

		SingleUserFixedID: 1,

		RequireRegistrationCode:           true,
		DefaultUserRole:                   "user",
		DefaultStorageQuotaMB:             5120,
		RegistrationCodeDefaultExpiryDays: 7,
		RegistrationCodeDefaultMaxUses:    1,
		MaxBatchRegistrationCodes:         100,

		PasswordMinLength:    10,
		Argon2MemoryKiB:      32768,
		Argon2Time:           2,
		Argon2Parallelism:    1,
		PasswordHistoryCount: 5,
		MaxLoginAttempts:     5,
		LockoutDuration:      15 * time.Minute,
		MaxSessionsPerUser:   20,

		RateLimitEnabled: true,
		AuthRateLimit:    Rate{N: 5, Per: time.Minute},
		APIRateLimit:     Rate{N: 100, Per: time.Minute},

		MaxUploadSizeMB: 500,

		LogLevel:                slog.LevelInfo,
		LogFormat:               "text",
		AuditLogFormat:          "text",
		AuditLogRetentionDays:   180,
		AuditCheckpointInterval: 5 * time.Minute,

		SessionCookieHTTPOnly: true,
		SessionCookieSameSite: "lax",
		CSPDirectives:         "default-src 'none'; frame-ancestors 'none'",

		EnableMetrics:       true,
		HealthMinFreeDiskMB: 1024,
	}
}

// FromEnv returns [DefaultConfig] overridden by the keys lookup reports (hosts pass
// os.LookupEnv; tests pass a map). Values are trimmed and an empty value counts as unset.
// Every malformed value and every [Config.Validate] problem is reported in one joined error
// that names the key and the bad value (secrets redacted); the returned Config holds every
// value that did parse. FromEnv does not read the process environment itself; it is safe for
// concurrent use when lookup is.
func FromEnv(lookup func(string) (string, bool)) (Config, error) {
	c := DefaultConfig()
	var errs []error
	for _, e := range configKeys() {
		key, v, err := e.value(lookup)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if v == "" {
			continue
		}
		if err := e.parse(&c, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
	}
	errs = append(errs, c.Validate())
	return c, errors.Join(errs...)
}

// ConfigEntry is one key of the effective configuration as [Config.Redacted] reports it.
type ConfigEntry struct{ Key, Value string }

// Redacted returns the effective configuration, one entry per key in the documented order,
// formatted as FromEnv would read it, except that secrets show REDACTED and URL passwords
// are replaced by REDACTED. It is meant for `tldwd check-config` and logs.
func (c Config) Redacted() []ConfigEntry {
	keys := configKeys()
	out := make([]ConfigEntry, 0, len(keys))
	for _, e := range keys {
		out = append(out, ConfigEntry{Key: e.Key, Value: e.format(&c)})
	}
	return out
}

// Validate reports every problem of c in one joined error (nil when c is usable). Messages
// name the environment key, e.g. "JWT_SECRET_KEY must be at least 32 characters"; secrets
// never appear in them.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	positive := func(key string, d time.Duration) {
		if d <= 0 {
			bad("%s must be greater than 0", key)
		}
	}
	atLeast := func(key string, n, min int64) {
		if n < min {
			bad("%s must be at least %d (got %d)", key, min, n)
		}
	}

	// Server
	if c.AuthMode != "multi_user" && c.AuthMode != "single_user" {
		bad("AUTH_MODE: %q is not a mode (want multi_user or single_user)", c.AuthMode)
	}
	if err := checkHostPort(c.Addr); err != nil {
		bad("TLDW_ADDR: %q is not host:port: %v", c.Addr, err)
	}
	if c.DataDir == "" {
		bad("TLDW_DATA_DIR must not be empty")
	}
	positive("SERVER_READ_HEADER_TIMEOUT_SECONDS", c.ReadHeaderTimeout)
	positive("SERVER_READ_TIMEOUT_SECONDS", c.ReadTimeout)
	positive("SERVER_WRITE_TIMEOUT_SECONDS", c.WriteTimeout)
	positive("SERVER_IDLE_TIMEOUT_SECONDS", c.IdleTimeout)
	atLeast("SERVER_MAX_HEADER_BYTES", int64(c.MaxHeaderBytes), 1024)
	if c.ShutdownDelay < 0 {
		bad("SHUTDOWN_DELAY_SECONDS must not be negative")
	}
	if c.DrainTimeout < 0 {
		bad("SHUTDOWN_DRAIN_SECONDS must not be negative")
	}

	// Database
	if c.DatabaseKind() == "" {
		bad("DATABASE_URL: %q is not a supported database URL (want sqlite:PATH, sqlite:///PATH, sqlite::memory:, postgres://... or postgresql://...)", c.DatabaseURL)
	} else if s := c.DatabaseURL.Reveal(); c.DatabaseKind() == "postgres" {
		if _, err := url.Parse(s); err != nil {
			bad("DATABASE_URL: %q is not a valid URL", c.DatabaseURL)
		}
	}
	atLeast("DATABASE_POOL_SIZE", int64(c.DatabasePoolSize), 1)
	atLeast("DATABASE_MAX_OVERFLOW", int64(c.DatabaseMaxOverflow), 0)
	atLeast("DATABASE_POOL_MIN_SIZE", int64(c.DatabasePoolMinSize), 0)
	if c.DatabasePoolSize >= 1 && c.DatabasePoolMinSize > c.DatabasePoolSize {
		bad("DATABASE_POOL_MIN_SIZE (%d) must not exceed DATABASE_POOL_SIZE (%d)", c.DatabasePoolMinSize, c.DatabasePoolSize)
	}

	// Redis
	if s := c.RedisURL.Reveal(); s != "" {
		u, err := url.Parse(s)
		switch {
		case err != nil:
			bad("REDIS_URL: %q is not a valid URL", c.RedisURL)
		case u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix":
			bad("REDIS_URL: %q is not a Redis URL (want redis://, rediss:// or unix://)", c.RedisURL)
		}
	}
	atLeast("REDIS_MAX_CONNECTIONS", int64(c.RedisMaxConnections), 1)
	positive("CACHE_TTL_SECONDS", c.CacheTTL)
	positive("SESSION_CACHE_TTL", c.SessionCacheTTL)

	// JWT
	if c.JWTSecretKey != "" {
		errs = append(errs, checkSigningSecret("JWT_SECRET_KEY", c.JWTSecretKey.Reveal()))
	}
	switch c.JWTAlgorithm {
	case "HS256":
	case "RS256", "ES256", "EdDSA":
		if c.JWTPrivateKeyFile == "" || c.JWTPublicKeyFile == "" {
			bad("JWT_PRIVATE_KEY and JWT_PUBLIC_KEY are required when JWT_ALGORITHM=%s", c.JWTAlgorithm)
		}
	default:
		bad("JWT_ALGORITHM: %q is not supported (want HS256, RS256, ES256 or EdDSA)", c.JWTAlgorithm)
	}
	for i, k := range c.JWTPreviousSecretKeys {
		errs = append(errs, checkSigningSecret(fmt.Sprintf("JWT_PREVIOUS_SECRET_KEYS[%d]", i), k.Reveal()))
	}
	if c.JWTIssuer == "" {
		bad("JWT_ISSUER must not be empty")
	}
	if c.JWTAudience == "" {
		bad("JWT_AUDIENCE must not be empty")
	}
	positive("ACCESS_TOKEN_EXPIRE_MINUTES", c.AccessTokenExpire)
	positive("REFRESH_TOKEN_EXPIRE_DAYS", c.RefreshTokenExpire)

	// Single-user mode
	if c.AuthMode == "single_user" {
		key := c.SingleUserAPIKey.Reveal()
		n := utf8.RuneCountInString(key)
		switch {
		case key == "":
			bad("SINGLE_USER_API_KEY is required when AUTH_MODE=single_user")
		case isPlaceholder(key):
			bad("SINGLE_USER_API_KEY is a placeholder from the documentation; generate one with `openssl rand -base64 32`")
		case n < 16:
			bad("SINGLE_USER_API_KEY must be at least 16 characters (got %d)", n)
		case n < 24 && !isLoopbackAddr(c.Addr):
			bad("SINGLE_USER_API_KEY must be at least 24 characters when TLDW_ADDR (%s) is not a loopback address (got %d)", c.Addr, n)
		}
	}
	atLeast("SINGLE_USER_FIXED_ID", c.SingleUserFixedID, 1)
	checkPrefixes(&errs, "SINGLE_USER_ALLOWED_IPS", c.SingleUserAllowedIPs)

	// Registration
	if c.DefaultUserRole != "user" && c.DefaultUserRole != "moderator" {
		bad("DEFAULT_USER_ROLE: %q is not allowed (want user or moderator)", c.DefaultUserRole)
	}
	atLeast("DEFAULT_STORAGE_QUOTA_MB", c.DefaultStorageQuotaMB, 0)
	atLeast("REGISTRATION_CODE_DEFAULT_EXPIRY_DAYS", int64(c.RegistrationCodeDefaultExpiryDays), 1)
	atLeast("REGISTRATION_CODE_DEFAULT_MAX_USES", int64(c.RegistrationCodeDefaultMaxUses), 1)
	atLeast("MAX_BATCH_REGISTRATION_CODES", int64(c.MaxBatchRegistrationCodes), 1)

	// Passwords and lockout
	atLeast("PASSWORD_MIN_LENGTH", int64(c.PasswordMinLength), 8)
	atLeast("ARGON2_MEMORY_COST", int64(c.Argon2MemoryKiB), 8192)
	atLeast("ARGON2_TIME_COST", int64(c.Argon2Time), 1)
	atLeast("ARGON2_PARALLELISM", int64(c.Argon2Parallelism), 1)
	atLeast("PASSWORD_HISTORY_RETENTION_COUNT", int64(c.PasswordHistoryCount), 0)
	atLeast("MAX_LOGIN_ATTEMPTS", int64(c.MaxLoginAttempts), 1)
	positive("LOCKOUT_DURATION_MINUTES", c.LockoutDuration)
	atLeast("MAX_SESSIONS_PER_USER", int64(c.MaxSessionsPerUser), 1)

	// Rate limiting
	checkRate(&errs, "AUTH_RATE_LIMIT", c.AuthRateLimit)
	checkRate(&errs, "API_RATE_LIMIT", c.APIRateLimit)
	checkPrefixes(&errs, "TRUSTED_PROXIES", c.TrustedProxies)
	for _, r := range c.RateLimitExempt {
		if !hasString([]string{"admin", "moderator", "service", "user"}, r) {
			bad("RATE_LIMIT_EXEMPT_ROLES: %q is not a role (want admin, moderator, service or user)", r)
		}
	}

	// CORS
	for _, o := range c.AllowedOrigins {
		if o == "*" {
			if c.CORSAllowCredentials {
				bad("ALLOWED_ORIGINS=* cannot be combined with CORS_ALLOW_CREDENTIALS=true; list the origins instead")
			}
			continue
		}
		if err := checkOrigin(o); err != nil {
			bad("ALLOWED_ORIGINS: %q is not an origin: %v", o, err)
		}
	}

	// Storage
	if c.MediaStorageURL != "" {
		if err := checkStorageURL(c.MediaStorageURL); err != nil {
			bad("MEDIA_STORAGE_URL: %q %v", c.MediaStorageURL, err)
		}
	}
	atLeast("MAX_UPLOAD_SIZE_MB", c.MaxUploadSizeMB, 1)

	// Logging
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("LOG_FORMAT: %q is not a format (want text or json)", c.LogFormat)
	}
	if c.AuditLogFormat != "text" && c.AuditLogFormat != "json" {
		bad("AUDIT_LOG_FORMAT: %q is not a format (want text or json)", c.AuditLogFormat)
	}
	atLeast("AUDIT_LOG_RETENTION_DAYS", int64(c.AuditLogRetentionDays), 0)
	if c.AuditCheckpointInterval < time.Second {
		bad("AUDIT_CHECKPOINT_INTERVAL_SECONDS must be at least 1")
	}
	if c.AuditHMACKey != "" && len([]rune(c.AuditHMACKey.Reveal())) < 32 {
		bad("AUDIT_HMAC_KEY must be at least 32 characters")
	}
	if c.APIKeyPepper != "" && len([]rune(c.APIKeyPepper.Reveal())) < 32 {
		bad("API_KEY_PEPPER must be at least 32 characters")
	}

	// Security settings
	switch c.SessionCookieSameSite {
	case "strict", "lax":
	case "none":
		if !c.SecureCookies {
			bad("SESSION_COOKIE_SAMESITE=none requires SECURE_COOKIES=true")
		}
	default:
		bad("SESSION_COOKIE_SAMESITE: %q is not allowed (want strict, lax or none)", c.SessionCookieSameSite)
	}
	for _, h := range c.TrustedHosts {
		if h == "" || strings.ContainsAny(h, "/ \t@") {
			bad("TRUSTED_HOSTS: %q is not a host name (want host, host:port or *.domain)", h)
		}
	}
	if c.CSPDirectives == "" {
		bad("CSP_DIRECTIVES must not be empty")
	}

	// Monitoring
	checkPrefixes(&errs, "METRICS_ALLOWED_CIDRS", c.MetricsAllowedCIDRs)
	if n := utf8.RuneCountInString(c.MetricsToken.Reveal()); n > 0 && n < 16 {
		bad("METRICS_TOKEN must be at least 16 characters (got %d)", n)
	}
	atLeast("HEALTH_MIN_FREE_DISK_MB", c.HealthMinFreeDiskMB, 0)

	return errors.Join(errs...)
}

// Warnings returns non-fatal concerns about c, one sentence each: sample passwords copied from
// the deployment guide, a wildcard CORS origin, insecure cookies on a public host and similar.
// The host prints them; they never contain secrets.
func (c Config) Warnings() []string {
	var w []string
	for _, d := range []struct {
		key string
		dsn DSN
	}{{"DATABASE_URL", c.DatabaseURL}, {"REDIS_URL", c.RedisURL}} {
		// Passwords printed in the deployment guide.
		for _, sample := range []string{"SecurePassword123!", "YourRedisPassword123!", "BackupPassword123!"} {
			if strings.Contains(d.dsn.Reveal(), sample) {
				w = append(w, fmt.Sprintf("%s uses the deployment guide's sample password %q; choose your own", d.key, sample))
			}
		}
	}
	if hasString(c.AllowedOrigins, "*") && !c.DisableCORS {
		w = append(w, `ALLOWED_ORIGINS contains "*": any web site can call the API from a browser`)
	}
	if c.DisableCORS && len(c.AllowedOrigins) > 0 {
		w = append(w, "DISABLE_CORS=true: ALLOWED_ORIGINS is ignored")
	}
	if !c.SecureCookies && len(c.TrustedHosts) > 0 {
		w = append(w, "SECURE_COOKIES=false while TRUSTED_HOSTS is set: cookies may travel over plain HTTP; set SECURE_COOKIES=true behind TLS")
	}
	if c.AuthCookies && !c.SecureCookies {
		w = append(w, "AUTH_COOKIES=true with SECURE_COOKIES=false: login cookies are not marked Secure")
	}
	if c.AuthMode == "multi_user" && c.EnableRegistration && !c.RequireRegistrationCode {
		w = append(w, "ENABLE_REGISTRATION=true and REQUIRE_REGISTRATION_CODE=false: anyone who can reach the server can create an account")
	}
	if !c.RateLimitEnabled {
		w = append(w, "RATE_LIMIT_ENABLED=false: login and API requests are not rate limited")
	}
	if c.JWTAlgorithm == "HS256" && (c.JWTPrivateKeyFile != "" || c.JWTPublicKeyFile != "") {
		w = append(w, "JWT_PRIVATE_KEY/JWT_PUBLIC_KEY are ignored with JWT_ALGORITHM=HS256")
	}
	return w
}

// DatabaseKind reports which database [Config.ResolvedDatabaseURL] names: "sqlite",
// "postgres", or "" when DATABASE_URL is not a supported form (Validate reports that).
func (c Config) DatabaseKind() string {
	s := c.ResolvedDatabaseURL()
	switch {
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		return "postgres"
	case c.SQLitePath() != "":
		return "sqlite"
	}
	return ""
}

// ResolvedDatabaseURL returns DATABASE_URL with its password, or, when it is empty, the
// default "sqlite:<DataDir>/tldw.db".
func (c Config) ResolvedDatabaseURL() string {
	if c.DatabaseURL == "" {
		return "sqlite:" + filepath.Join(c.DataDir, "tldw.db")
	}
	return c.DatabaseURL.Reveal()
}

// SQLitePath returns the SQLite file path (":memory:" for sqlite::memory:) that
// [Config.ResolvedDatabaseURL] names, as given (relative paths stay relative, a ?query
// stays attached), or "" when the database is not SQLite. Both "sqlite:PATH" and the
// Python style "sqlite:///PATH" (relative; "sqlite:////abs" is absolute) are understood.
func (c Config) SQLitePath() string {
	s := c.ResolvedDatabaseURL()
	rest, ok := strings.CutPrefix(s, "sqlite:")
	switch {
	case !ok:
		return ""
	case strings.HasPrefix(rest, "///"):
		rest = rest[3:]
	case strings.HasPrefix(rest, "//"):
		return "" // sqlite://host/... is ambiguous
	}
	return rest
}

// MediaDir returns the directory for media files: MEDIA_STORAGE_PATH, or <DataDir>/media.
func (c Config) MediaDir() string {
	if c.MediaStoragePath != "" {
		return c.MediaStoragePath
	}
	return filepath.Join(c.DataDir, "media")
}

// TempDir returns the directory for temporary files: TEMP_PATH, or <DataDir>/temp.
func (c Config) TempDir() string {
	if c.TempPath != "" {
		return c.TempPath
	}
	return filepath.Join(c.DataDir, "temp")
}

const redacted = "REDACTED"

// Secret is a string that never prints: String, GoString, Format (every fmt verb),
// MarshalText, MarshalJSON and LogValue show "REDACTED", or "" when it is empty. Call Reveal
// to use the value.
type Secret string

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// String returns "REDACTED", or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString returns the quoted redacted form, for %#v.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// Format prints the redacted form for every verb, so %d or %x cannot reveal the value.
func (s Secret) Format(f fmt.State, verb rune) { formatRedacted(f, verb, s.String()) }

// MarshalText returns the redacted form.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalJSON returns the redacted form as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// LogValue returns the redacted form for log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// DSN is a connection URL that may carry a password (in the userinfo or a password query
// parameter). String, GoString, Format, MarshalText, MarshalJSON and LogValue show it with the
// password replaced by REDACTED ("redis://:REDACTED@host:6379/0"); a value that is not a URL
// shows as REDACTED entirely. Call Reveal to use the value.
type DSN string

// Reveal returns the URL with its password.
func (d DSN) Reveal() string { return string(d) }

// String returns the URL with its password replaced by REDACTED.
func (d DSN) String() string { return redactURL(string(d)) }

// GoString returns the quoted redacted form, for %#v.
func (d DSN) GoString() string { return strconv.Quote(d.String()) }

// Format prints the redacted form for every verb.
func (d DSN) Format(f fmt.State, verb rune) { formatRedacted(f, verb, d.String()) }

// MarshalText returns the redacted form.
func (d DSN) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// MarshalJSON returns the redacted form as a JSON string.
func (d DSN) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// LogValue returns the redacted form for log/slog.
func (d DSN) LogValue() slog.Value { return slog.StringValue(d.String()) }

// formatRedacted writes s for a fmt verb: quoted for %q and %#v, plain otherwise.
func formatRedacted(f fmt.State, verb rune, s string) {
	if verb == 'q' || (verb == 'v' && f.Flag('#')) {
		s = strconv.Quote(s)
	}
	_, _ = io.WriteString(f, s)
}

// redactURL replaces the password of a URL by REDACTED: the userinfo password (found by
// hand, so unescaped "@", "#" or "/" in it cannot leak) and password-like query parameters.
// Values that are not URLs are redacted entirely: they may be key=value DSNs.
func redactURL(s string) string {
	if s == "" {
		return ""
	}
	head, rest, ok := strings.Cut(s, "://")
	if !ok {
		if u, err := url.Parse(s); err == nil && u.Scheme != "" && !strings.Contains(s, "@") && !isSecretParam(s) {
			return s // sqlite:PATH, sqlite::memory:
		}
		return redacted
	}
	head += "://"
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if colon := strings.Index(rest[:at], ":"); colon >= 0 {
			rest = rest[:colon+1] + redacted + rest[at:]
		}
	}
	_, query, hasQuery := strings.Cut(rest, "?")
	if !hasQuery || !isSecretParam(query) {
		return head + rest
	}
	u, err := url.Parse(head + rest)
	if err != nil {
		return head + redacted
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return head + redacted
	}
	for k := range q {
		if isSecretParam(k) {
			q.Set(k, redacted)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// isSecretParam reports whether a query parameter name (or text) looks like it holds a secret.
func isSecretParam(s string) bool {
	s = strings.ToLower(s)
	return strings.Contains(s, "pass") || strings.Contains(s, "secret") || strings.Contains(s, "token")
}

// Rate is a request budget of N requests per Per, as in AUTH_RATE_LIMIT=5/minute.
type Rate struct {
	N   int
	Per time.Duration
}

// String formats r as FromEnv reads it: "5/minute"; "" for the zero Rate.
func (r Rate) String() string {
	if r == (Rate{}) {
		return ""
	}
	for _, u := range rateUnits() {
		if r.Per == u.d {
			return strconv.Itoa(r.N) + "/" + u.names[0]
		}
	}
	return strconv.Itoa(r.N) + "/" + r.Per.String()
}

type rateUnit struct {
	d     time.Duration
	names []string // the first is the canonical name
}

func rateUnits() []rateUnit {
	return []rateUnit{
		{time.Second, []string{"second", "seconds", "sec", "s"}},
		{time.Minute, []string{"minute", "minutes", "min", "m"}},
		{time.Hour, []string{"hour", "hours", "hr", "h"}},
		{24 * time.Hour, []string{"day", "days", "d"}},
	}
}

// ParseRate parses "N/unit" with unit second, minute, hour or day (also s, sec, min, m, h,
// hr, d and plurals; case-insensitive). It returns an error naming s when N is not a
// positive integer or the unit is unknown.
func ParseRate(s string) (Rate, error) {
	bad := fmt.Errorf("%q is not a rate (want N/second|minute|hour|day)", s)
	n, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Rate{}, bad
	}
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil || count <= 0 {
		return Rate{}, bad
	}
	unit = strings.ToLower(strings.TrimSpace(unit))
	for _, u := range rateUnits() {
		for _, name := range u.names {
			if unit == name {
				return Rate{N: count, Per: u.d}, nil
			}
		}
	}
	return Rate{}, bad
}

// isPlaceholder reports whether a secret is a sample value from documentation.
func isPlaceholder(s string) bool {
	l := strings.ToLower(s)
	for _, p := range [...]string{"change_me", "changeme", "change-me", "generate-a-secure", "your-secret-key", "new-secret-key"} {
		if strings.Contains(l, p) {
			return true
		}
	}
	return false
}

// checkSigningSecret checks an HMAC signing secret: at least 32 characters, not a placeholder.
func checkSigningSecret(key, s string) error {
	if isPlaceholder(s) {
		return fmt.Errorf("%s is a placeholder from the documentation; generate one with `openssl rand -base64 64` or `tldwd gen-secret`", key)
	}
	if n := utf8.RuneCountInString(s); n < 32 {
		return fmt.Errorf("%s must be at least 32 characters (got %d)", key, n)
	}
	return nil
}

func checkRate(errs *[]error, key string, r Rate) {
	if r.N <= 0 || r.Per <= 0 {
		*errs = append(*errs, fmt.Errorf("%s: %q is not a rate (want N/second|minute|hour|day with N > 0)", key, r.String()))
	}
}

func checkPrefixes(errs *[]error, key string, ps []netip.Prefix) {
	for _, p := range ps {
		if !p.IsValid() {
			*errs = append(*errs, fmt.Errorf("%s contains an invalid prefix", key))
		}
	}
}

// checkHostPort checks "host:port" with a numeric port; the host may be empty (all interfaces).
func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}

// isLoopbackAddr reports whether a listen address binds to loopback only.
func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// checkOrigin checks a browser origin: http(s)://host[:port], nothing else.
func checkOrigin(o string) error {
	u, err := url.Parse(o)
	switch {
	case err != nil:
		return err
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("want http:// or https://")
	case u.Host == "" || u.User != nil:
		return errors.New("want scheme://host[:port]")
	case u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "?") || strings.HasSuffix(o, "#"):
		return errors.New("an origin has no path, not even a trailing slash")
	}
	return nil
}

// checkStorageURL checks MEDIA_STORAGE_URL: file://PATH or s3://BUCKET[/PREFIX].
func checkStorageURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return errors.New("is not a valid URL")
	case u.Scheme == "file" && u.Path != "":
		return nil
	case u.Scheme == "s3" && u.Host != "":
		return nil
	}
	return errors.New("is not a storage URL (want file://PATH or s3://BUCKET/PREFIX)")
}

func hasString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// entry is one configuration key. The list returned by configKeys drives FromEnv, Redacted,
// the doc table above and .env.example (the tests keep the last two in sync).
type entry struct {
	Key     string
	Aliases []string // other names for the key; setting two of them to different values is an error
	Merge   bool     // list keys: the values of Key and Aliases are concatenated instead
	Field   string   // Config field set
	Group   string   // heading in the docs and .env.example
	Meaning string
	parse   func(c *Config, v string) error // v is trimmed and not empty; errors omit the key
	format  func(c *Config) string          // as FromEnv reads it, secrets redacted
}

// value looks up e's key and aliases and returns the name that was used with its trimmed
// value ("" when none is set).
func (e entry) value(lookup func(string) (string, bool)) (key, v string, err error) {
	var parts []string
	for _, k := range append([]string{e.Key}, e.Aliases...) {
		s, ok := lookup(k)
		if s = strings.TrimSpace(s); !ok || s == "" {
			continue
		}
		switch {
		case key == "":
			key, v = k, s
		case e.Merge:
		case s != v:
			return "", "", fmt.Errorf("%s and %s are both set and differ; set only one", key, k)
		}
		parts = append(parts, s)
	}
	if e.Merge {
		v = strings.Join(parts, ",")
	}
	return key, v, nil
}

func (e entry) alias(names ...string) entry { e.Aliases = names; return e }

// configKeys returns the key table in documentation order.
func configKeys() []entry {
	var all []entry
	group := func(name string, es ...entry) {
		for _, e := range es {
			e.Group = name
			all = append(all, e)
		}
	}
	group("Server",
		lowerKey("AUTH_MODE", "AuthMode", "multi_user (accounts, JWT) or single_user (one API key).", func(c *Config) *string { return &c.AuthMode }),
		strKey("PROFILE", "Profile", "Deployment profile name; informational only.", func(c *Config) *string { return &c.Profile }),
		strKey("TLDW_ADDR", "Addr", "host:port the server listens on.", func(c *Config) *string { return &c.Addr }),
		strKey("TLDW_DATA_DIR", "DataDir", "Directory for the default SQLite database, media, temp files and generated secrets.", func(c *Config) *string { return &c.DataDir }),
		durKey("SERVER_READ_HEADER_TIMEOUT_SECONDS", "ReadHeaderTimeout", "Seconds to read request headers.", time.Second, func(c *Config) *time.Duration { return &c.ReadHeaderTimeout }),
		durKey("SERVER_READ_TIMEOUT_SECONDS", "ReadTimeout", "Seconds to read a whole request, body included.", time.Second, func(c *Config) *time.Duration { return &c.ReadTimeout }),
		durKey("SERVER_WRITE_TIMEOUT_SECONDS", "WriteTimeout", "Seconds to write a response.", time.Second, func(c *Config) *time.Duration { return &c.WriteTimeout }),
		durKey("SERVER_IDLE_TIMEOUT_SECONDS", "IdleTimeout", "Seconds a keep-alive connection may stay idle.", time.Second, func(c *Config) *time.Duration { return &c.IdleTimeout }),
		intKey("SERVER_MAX_HEADER_BYTES", "MaxHeaderBytes", "Largest request header block in bytes.", func(c *Config) *int { return &c.MaxHeaderBytes }),
		durKey("SHUTDOWN_DELAY_SECONDS", "ShutdownDelay", "Seconds /ready answers 503 before the listener closes (for load balancers).", time.Second, func(c *Config) *time.Duration { return &c.ShutdownDelay }),
		durKey("SHUTDOWN_DRAIN_SECONDS", "DrainTimeout", "Seconds in-flight requests get to finish on shutdown.", time.Second, func(c *Config) *time.Duration { return &c.DrainTimeout }),
	)
	group("Database",
		dsnKey("DATABASE_URL", "DatabaseURL", "sqlite:PATH, sqlite:///PATH, sqlite::memory:, postgres:// or postgresql:// URL; empty = sqlite:<TLDW_DATA_DIR>/tldw.db.", func(c *Config) *DSN { return &c.DatabaseURL }),
		intKey("DATABASE_POOL_SIZE", "DatabasePoolSize", "Maximum open database connections.", func(c *Config) *int { return &c.DatabasePoolSize }).alias("DATABASE_POOL_MAX_SIZE"),
		intKey("DATABASE_MAX_OVERFLOW", "DatabaseMaxOverflow", "Extra connections allowed above the pool size under load.", func(c *Config) *int { return &c.DatabaseMaxOverflow }),
		intKey("DATABASE_POOL_MIN_SIZE", "DatabasePoolMinSize", "Connections kept open when idle.", func(c *Config) *int { return &c.DatabasePoolMinSize }),
		boolKey("TLDW_AUTO_MIGRATE", "AutoMigrate", "Apply pending schema migrations at startup.", func(c *Config) *bool { return &c.AutoMigrate }),
	)
	group("Redis",
		dsnKey("REDIS_URL", "RedisURL", "redis://, rediss:// or unix:// URL; empty = no Redis (single replica).", func(c *Config) *DSN { return &c.RedisURL }),
		intKey("REDIS_MAX_CONNECTIONS", "RedisMaxConnections", "Maximum Redis connections.", func(c *Config) *int { return &c.RedisMaxConnections }),
		durKey("CACHE_TTL_SECONDS", "CacheTTL", "Seconds cached lookups live.", time.Second, func(c *Config) *time.Duration { return &c.CacheTTL }),
		durKey("SESSION_CACHE_TTL", "SessionCacheTTL", "Seconds cached session checks live.", time.Second, func(c *Config) *time.Duration { return &c.SessionCacheTTL }),
	)
	group("JWT Security",
		secretKey("JWT_SECRET_KEY", "JWTSecretKey", "HS256 signing secret, at least 32 characters; empty = generated once and stored in TLDW_DATA_DIR.", func(c *Config) *Secret { return &c.JWTSecretKey }),
		entry{Key: "JWT_ALGORITHM", Field: "JWTAlgorithm", Meaning: "HS256, RS256, ES256 or EdDSA.",
			parse: func(c *Config, v string) error {
				c.JWTAlgorithm = v
				for _, a := range []string{"HS256", "RS256", "ES256", "EdDSA"} {
					if strings.EqualFold(v, a) {
						c.JWTAlgorithm = a
					}
				}
				return nil
			},
			format: func(c *Config) string { return c.JWTAlgorithm }},
		strKey("JWT_PRIVATE_KEY", "JWTPrivateKeyFile", "PEM private key file; required unless JWT_ALGORITHM=HS256.", func(c *Config) *string { return &c.JWTPrivateKeyFile }),
		strKey("JWT_PUBLIC_KEY", "JWTPublicKeyFile", "PEM public key file; required unless JWT_ALGORITHM=HS256.", func(c *Config) *string { return &c.JWTPublicKeyFile }),
		entry{Key: "JWT_PREVIOUS_SECRET_KEYS", Aliases: []string{"JWT_SECONDARY_SECRET"}, Merge: true, Field: "JWTPreviousSecretKeys",
			Meaning: "Comma-separated retired secrets still accepted for verification.",
			parse: func(c *Config, v string) error {
				c.JWTPreviousSecretKeys = nil
				for _, s := range splitList(v) {
					c.JWTPreviousSecretKeys = append(c.JWTPreviousSecretKeys, Secret(s))
				}
				return nil
			},
			format: func(c *Config) string {
				out := make([]string, len(c.JWTPreviousSecretKeys))
				for i, s := range c.JWTPreviousSecretKeys {
					out[i] = s.String()
				}
				return strings.Join(out, ",")
			}},
		strKey("JWT_ISSUER", "JWTIssuer", "iss claim set and required on tokens.", func(c *Config) *string { return &c.JWTIssuer }),
		strKey("JWT_AUDIENCE", "JWTAudience", "aud claim set and required on tokens.", func(c *Config) *string { return &c.JWTAudience }),
		durKey("ACCESS_TOKEN_EXPIRE_MINUTES", "AccessTokenExpire", "Access-token lifetime in minutes.", time.Minute, func(c *Config) *time.Duration { return &c.AccessTokenExpire }),
		durKey("REFRESH_TOKEN_EXPIRE_DAYS", "RefreshTokenExpire", "Refresh-token lifetime in days.", 24*time.Hour, func(c *Config) *time.Duration { return &c.RefreshTokenExpire }),
		boolKey("ROTATE_REFRESH_TOKENS", "RotateRefreshTokens", "Issue a new refresh token on every refresh.", func(c *Config) *bool { return &c.RotateRefreshTokens }),
		secretKey("API_KEY_PEPPER", "APIKeyPepper", "Key hashing personal API keys, at least 32 characters; empty = generated once and stored in TLDW_DATA_DIR. Replicas must share it.", func(c *Config) *Secret { return &c.APIKeyPepper }),
	)
	group("Single-user mode",
		secretKey("SINGLE_USER_API_KEY", "SingleUserAPIKey", "The API key in single_user mode: at least 16 characters, 24 when TLDW_ADDR is not loopback.", func(c *Config) *Secret { return &c.SingleUserAPIKey }).alias("API_KEY"),
		intKey("SINGLE_USER_FIXED_ID", "SingleUserFixedID", "User id of the single user.", func(c *Config) *int64 { return &c.SingleUserFixedID }),
		prefixKey("SINGLE_USER_ALLOWED_IPS", "SingleUserAllowedIPs", "Comma-separated IPs/CIDRs allowed in single_user mode; empty = any.", func(c *Config) *[]netip.Prefix { return &c.SingleUserAllowedIPs }),
	)
	group("Registration",
		boolKey("ENABLE_REGISTRATION", "EnableRegistration", "Allow self-registration.", func(c *Config) *bool { return &c.EnableRegistration }),
		boolKey("REQUIRE_REGISTRATION_CODE", "RequireRegistrationCode", "Self-registration needs a registration code.", func(c *Config) *bool { return &c.RequireRegistrationCode }),
		lowerKey("DEFAULT_USER_ROLE", "DefaultUserRole", "Role of new users: user or moderator.", func(c *Config) *string { return &c.DefaultUserRole }),
		intKey("DEFAULT_STORAGE_QUOTA_MB", "DefaultStorageQuotaMB", "Storage quota of new users in MB; 0 = unlimited.", func(c *Config) *int64 { return &c.DefaultStorageQuotaMB }),
		intKey("REGISTRATION_CODE_DEFAULT_EXPIRY_DAYS", "RegistrationCodeDefaultExpiryDays", "Days a new registration code stays valid.", func(c *Config) *int { return &c.RegistrationCodeDefaultExpiryDays }),
		intKey("REGISTRATION_CODE_DEFAULT_MAX_USES", "RegistrationCodeDefaultMaxUses", "Uses a new registration code allows.", func(c *Config) *int { return &c.RegistrationCodeDefaultMaxUses }),
		intKey("MAX_BATCH_REGISTRATION_CODES", "MaxBatchRegistrationCodes", "Most codes one batch request may create.", func(c *Config) *int { return &c.MaxBatchRegistrationCodes }),
	)
	group("Passwords and lockout",
		intKey("PASSWORD_MIN_LENGTH", "PasswordMinLength", "Minimum password length (at least 8).", func(c *Config) *int { return &c.PasswordMinLength }),
		intKey("ARGON2_MEMORY_COST", "Argon2MemoryKiB", "Argon2id memory in KiB (at least 8192).", func(c *Config) *uint32 { return &c.Argon2MemoryKiB }),
		intKey("ARGON2_TIME_COST", "Argon2Time", "Argon2id iterations.", func(c *Config) *uint32 { return &c.Argon2Time }),
		intKey("ARGON2_PARALLELISM", "Argon2Parallelism", "Argon2id lanes.", func(c *Config) *uint8 { return &c.Argon2Parallelism }),
		intKey("PASSWORD_HISTORY_RETENTION_COUNT", "PasswordHistoryCount", "Earlier passwords a new one may not repeat.", func(c *Config) *int { return &c.PasswordHistoryCount }),
		intKey("MAX_LOGIN_ATTEMPTS", "MaxLoginAttempts", "Failed logins before a lockout.", func(c *Config) *int { return &c.MaxLoginAttempts }),
		durKey("LOCKOUT_DURATION_MINUTES", "LockoutDuration", "Lockout length in minutes.", time.Minute, func(c *Config) *time.Duration { return &c.LockoutDuration }),
		intKey("MAX_SESSIONS_PER_USER", "MaxSessionsPerUser", "Active sessions per user; the oldest is ended beyond this.", func(c *Config) *int { return &c.MaxSessionsPerUser }),
	)
	group("Rate Limiting",
		boolKey("RATE_LIMIT_ENABLED", "RateLimitEnabled", "Enforce request rate limits.", func(c *Config) *bool { return &c.RateLimitEnabled }),
		rateKey("AUTH_RATE_LIMIT", "AuthRateLimit", "Per-IP limit on login, registration, token refresh and password changes (N/second|minute|hour|day).", func(c *Config) *Rate { return &c.AuthRateLimit }),
		rateKey("API_RATE_LIMIT", "APIRateLimit", "Per-user (or per-API-key) limit on other authenticated API calls (N/second|minute|hour|day).", func(c *Config) *Rate { return &c.APIRateLimit }),
		prefixKey("TRUSTED_PROXIES", "TrustedProxies", "Comma-separated IPs/CIDRs whose X-Forwarded-For / X-Real-IP is trusted.", func(c *Config) *[]netip.Prefix { return &c.TrustedProxies }),
		listKey("RATE_LIMIT_EXEMPT_ROLES", "RateLimitExempt", "Comma-separated roles (admin, moderator, service, user) exempt from API_RATE_LIMIT.", func(c *Config) *[]string { return &c.RateLimitExempt }),
	)
	group("CORS",
		listKey("ALLOWED_ORIGINS", "AllowedOrigins", "Comma-separated browser origins (https://host[:port]) or *.", func(c *Config) *[]string { return &c.AllowedOrigins }),
		boolKey("CORS_ALLOW_CREDENTIALS", "CORSAllowCredentials", "Let browsers send cookies/credentials cross-origin (not with *).", func(c *Config) *bool { return &c.CORSAllowCredentials }),
		boolKey("DISABLE_CORS", "DisableCORS", "Send no CORS headers at all.", func(c *Config) *bool { return &c.DisableCORS }),
	)
	group("Storage",
		strKey("MEDIA_STORAGE_PATH", "MediaStoragePath", "Directory for media files; empty = <TLDW_DATA_DIR>/media.", func(c *Config) *string { return &c.MediaStoragePath }),
		strKey("MEDIA_STORAGE_URL", "MediaStorageURL", "Object storage instead of the directory: file://PATH or s3://BUCKET/PREFIX.", func(c *Config) *string { return &c.MediaStorageURL }),
		strKey("TEMP_PATH", "TempPath", "Directory for temporary files; empty = <TLDW_DATA_DIR>/temp.", func(c *Config) *string { return &c.TempPath }),
		intKey("MAX_UPLOAD_SIZE_MB", "MaxUploadSizeMB", "Largest upload in MB.", func(c *Config) *int64 { return &c.MaxUploadSizeMB }),
		strKey("S3_ENDPOINT", "S3Endpoint", "host[:port] of the S3 API when MEDIA_STORAGE_URL is s3:// (empty = AWS; MinIO, R2 ...).", func(c *Config) *string { return &c.S3Endpoint }),
		strKey("AWS_REGION", "S3Region", "S3 region.", func(c *Config) *string { return &c.S3Region }),
		strKey("AWS_ACCESS_KEY_ID", "S3AccessKey", "S3 access key id; empty = anonymous.", func(c *Config) *string { return &c.S3AccessKey }),
		secretKey("AWS_SECRET_ACCESS_KEY", "S3SecretKey", "S3 secret access key.", func(c *Config) *Secret { return &c.S3SecretKey }),
	)
	group("Logging",
		entry{Key: "LOG_LEVEL", Field: "LogLevel", Meaning: "DEBUG, INFO, WARNING, ERROR (CRITICAL = ERROR).",
			parse: func(c *Config, v string) error {
				name := strings.ToUpper(v)
				switch name {
				case "WARNING":
					name = "WARN"
				case "CRITICAL", "FATAL":
					name = "ERROR"
				}
				if err := c.LogLevel.UnmarshalText([]byte(name)); err != nil {
					return fmt.Errorf("%q is not a log level (want DEBUG, INFO, WARNING, ERROR or CRITICAL)", v)
				}
				return nil
			},
			format: func(c *Config) string {
				if c.LogLevel == slog.LevelWarn {
					return "WARNING"
				}
				return c.LogLevel.String()
			}},
		lowerKey("LOG_FORMAT", "LogFormat", "text or json.", func(c *Config) *string { return &c.LogFormat }),
		strKey("LOG_FILE", "LogFile", "Log file; empty = standard error.", func(c *Config) *string { return &c.LogFile }),
		strKey("AUDIT_LOG_FILE", "AuditLogFile", "Audit log file in addition to the database; empty = none.", func(c *Config) *string { return &c.AuditLogFile }),
		lowerKey("AUDIT_LOG_FORMAT", "AuditLogFormat", "text or json.", func(c *Config) *string { return &c.AuditLogFormat }),
		intKey("AUDIT_LOG_RETENTION_DAYS", "AuditLogRetentionDays", "Days audit rows are kept; 0 = forever.", func(c *Config) *int { return &c.AuditLogRetentionDays }),
		durKey("AUDIT_CHECKPOINT_INTERVAL_SECONDS", "AuditCheckpointInterval", "Seconds between signed audit-chain head checkpoints (also written on shutdown).", time.Second, func(c *Config) *time.Duration { return &c.AuditCheckpointInterval }),
		secretKey("AUDIT_HMAC_KEY", "AuditHMACKey", "Key signing audit checkpoints, at least 32 characters; empty = generated once and stored in TLDW_DATA_DIR. Replicas must share it.", func(c *Config) *Secret { return &c.AuditHMACKey }),
	)
	group("Security settings",
		boolKey("SECURE_COOKIES", "SecureCookies", "Mark cookies Secure (set true behind TLS).", func(c *Config) *bool { return &c.SecureCookies }).alias("SESSION_COOKIE_SECURE"),
		boolKey("SESSION_COOKIE_HTTPONLY", "SessionCookieHTTPOnly", "Mark cookies HttpOnly.", func(c *Config) *bool { return &c.SessionCookieHTTPOnly }),
		lowerKey("SESSION_COOKIE_SAMESITE", "SessionCookieSameSite", "strict, lax or none (none needs SECURE_COOKIES=true).", func(c *Config) *string { return &c.SessionCookieSameSite }),
		boolKey("AUTH_COOKIES", "AuthCookies", "Also accept and set login cookies for browser clients.", func(c *Config) *bool { return &c.AuthCookies }),
		listKey("TRUSTED_HOSTS", "TrustedHosts", "Comma-separated Host header values accepted; empty = any.", func(c *Config) *[]string { return &c.TrustedHosts }),
		entry{Key: "CSP_DIRECTIVES", Field: "CSPDirectives", Meaning: "Content-Security-Policy of API responses.",
			parse: func(c *Config, v string) error {
				if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
					v = strings.TrimSpace(v[1 : len(v)-1])
				}
				c.CSPDirectives = v
				return nil
			},
			format: func(c *Config) string { return c.CSPDirectives }},
	)
	group("Monitoring",
		boolKey("ENABLE_METRICS", "EnableMetrics", "Serve Prometheus metrics.", func(c *Config) *bool { return &c.EnableMetrics }),
		prefixKey("METRICS_ALLOWED_CIDRS", "MetricsAllowedCIDRs", "Comma-separated IPs/CIDRs that may read metrics besides loopback.", func(c *Config) *[]netip.Prefix { return &c.MetricsAllowedCIDRs }),
		secretKey("METRICS_TOKEN", "MetricsToken", "Bearer token that may read metrics from anywhere.", func(c *Config) *Secret { return &c.MetricsToken }),
		intKey("HEALTH_MIN_FREE_DISK_MB", "HealthMinFreeDiskMB", "/api/v1/health reports degraded below this much free disk in TLDW_DATA_DIR, in MB.", func(c *Config) *int64 { return &c.HealthMinFreeDiskMB }),
	)
	group("Bootstrap admin",
		strKey("TLDW_ADMIN_USERNAME", "AdminUsername", "Username of the admin created on first start.", func(c *Config) *string { return &c.AdminUsername }),
		strKey("TLDW_ADMIN_EMAIL", "AdminEmail", "Email of the admin created on first start.", func(c *Config) *string { return &c.AdminEmail }),
		secretKey("TLDW_ADMIN_PASSWORD", "AdminPassword", "Password of the admin created on first start.", func(c *Config) *Secret { return &c.AdminPassword }),
	)
	return all
}

func strKey(key, field, meaning string, p func(*Config) *string) entry {
	return entry{Key: key, Field: field, Meaning: meaning,
		parse:  func(c *Config, v string) error { *p(c) = v; return nil },
		format: func(c *Config) string { return *p(c) }}
}

// lowerKey is a strKey for enumerations: values are lower-cased; Validate checks them.
func lowerKey(key, field, meaning string, p func(*Config) *string) entry {
	e := strKey(key, field, meaning, p)
	e.parse = func(c *Config, v string) error { *p(c) = strings.ToLower(v); return nil }
	return e
}

func secretKey(key, field, meaning string, p func(*Config) *Secret) entry {
	return entry{Key: key, Field: field, Meaning: meaning,
		parse:  func(c *Config, v string) error { *p(c) = Secret(v); return nil },
		format: func(c *Config) string { return p(c).String() }}
}

func dsnKey(key, field, meaning string, p func(*Config) *DSN) entry {
	return entry{Key: key, Field: field, Meaning: meaning,
		parse:  func(c *Config, v string) error { *p(c) = DSN(v); return nil },
		format: func(c *Config) string { return p(c).String() }}
}

func boolKey(key, field, meaning string, p func(*Config) *bool) entry {
	return entry{Key: key, Field: field, Meaning: meaning,
		parse: func(c *Config, v string) error {
			switch strings.ToLower(v) {
			case "true", "1", "yes", "on":
				*p(c) = true
			case "false", "0", "no", "off":
				*p(c) = false
			default:
				return fmt.Errorf("%q is not a boolean (want true/false, 1/0, yes/no or on/off)", v)
			}
			return nil
		},
		format: func(c *Config) string { return strconv.FormatBool(*p(c)) }}
}

func intKey[T ~int | ~int64 | ~uint32 | ~uint8](key, field, meaning string, p func(*Config) *T) entry {
	return entry{Key: key, Field: field, Meaning: meaning,
		parse: func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if errors.Is(err, strconv.ErrRange) || (err == nil && int64(T(n)) != n) {
				return fmt.Errorf("%q is out of range", v)
			}
			if err != nil {
				return fmt.Errorf("%q is not an integer", v)
			}
			*p(c) = T(n)
			return nil
		},
		format: func(c *Config) string { return strconv.FormatInt(int64(*p(c)), 10) }}
}

// durKey reads a whole number of unit (seconds, minutes, days) into a time.Duration.
func durKey(key, field, meaning string, unit time.Duration, p func(*Config) *time.Duration) entry {
	return entry{Key: key, Field: field, Meaning: meaning,
		parse: func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if errors.Is(err, strconv.ErrRange) || (err == nil && (n > math.MaxInt64/int64(unit) || n < math.MinInt64/int64(unit))) {
				return fmt.Errorf("%q is out of range", v)
			}
			if err != nil {
				return fmt.Errorf("%q is not an integer", v)
			}
			*p(c) = time.Duration(n) * unit
			return nil
		},
		format: func(c *Config) string {
			d := *p(c)
			if d%unit == 0 {
				return strconv.FormatInt(int64(d/unit), 10)
			}
			return d.String()
		}}
}

func rateKey(key, field, meaning string, p func(*Config) *Rate) entry {
	return entry{Key: key, Field: field, Meaning: meaning,
		parse: func(c *Config, v string) error {
			r, err := ParseRate(v)
			if err != nil {
				return err
			}
			*p(c) = r
			return nil
		},
		format: func(c *Config) string { return p(c).String() }}
}

func listKey(key, field, meaning string, p func(*Config) *[]string) entry {
	return entry{Key: key, Field: field, Meaning: meaning,
		parse:  func(c *Config, v string) error { *p(c) = splitList(v); return nil },
		format: func(c *Config) string { return strings.Join(*p(c), ",") }}
}

// prefixKey reads comma-separated CIDRs or bare IPs (a bare IP becomes a /32 or /128).
func prefixKey(key, field, meaning string, p func(*Config) *[]netip.Prefix) entry {
	return entry{Key: key, Field: field, Meaning: meaning,
		parse: func(c *Config, v string) error {
			var out []netip.Prefix
			for _, s := range splitList(v) {
				pfx, err := parsePrefix(s)
				if err != nil {
					return fmt.Errorf("%q is not an IP address or CIDR", s)
				}
				out = append(out, pfx)
			}
			*p(c) = out
			return nil
		},
		format: func(c *Config) string {
			out := make([]string, len(*p(c)))
			for i, pfx := range *p(c) {
				out[i] = pfx.String()
			}
			return strings.Join(out, ",")
		}}
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, errors.New("zones are not allowed")
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// splitList splits a comma-separated value, trimming items and dropping empty ones.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
