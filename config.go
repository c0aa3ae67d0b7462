package tldw

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tldw-go/tldw/auth"
)

// MaxStorageMB is the largest size in MB a configuration key (quota, upload, free disk)
// accepts: 1 PiB, so that byte counts, and sums of thousands of them, stay within int64.
const MaxStorageMB = auth.MaxStorageQuotaMB

const (
	maxConns = 10_000 // largest pool size a key accepts
	maxDays  = 36_500 // largest number of days a key accepts (100 years)
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
//	AUTH_MODE                           AuthMode             multi_user      multi_user (accounts, JWT) or single_user (one API key).
//	PROFILE                             Profile              -               Deployment profile name; informational only.
//	TLDW_ADDR                           Addr                 127.0.0.1:8000  host:port the server listens on.
//	TLDW_DATA_DIR                       DataDir              ./tldw-data     Directory for the default SQLite database, media, temp files and generated secrets.
//	SERVER_READ_HEADER_TIMEOUT_SECONDS  ReadHeaderTimeout    10              Seconds to read request headers.
//	SERVER_READ_TIMEOUT_SECONDS         ReadTimeout          600             Seconds to read a whole request, body included.
//	SERVER_WRITE_TIMEOUT_SECONDS        WriteTimeout         600             Seconds to write a response.
//	SERVER_IDLE_TIMEOUT_SECONDS         IdleTimeout          120             Seconds a keep-alive connection may stay idle.
//	SERVER_MAX_HEADER_BYTES             MaxHeaderBytes       65536           Largest request header block in bytes.
//	SHUTDOWN_DELAY_SECONDS              ShutdownDelay        0               Seconds /ready answers 503 before the listener closes (for load balancers).
//	SHUTDOWN_DRAIN_SECONDS              DrainTimeout         30              Seconds in-flight requests get to finish on shutdown.
//	REQUEST_BODY_IDLE_TIMEOUT_SECONDS   BodyIdleTimeout      30              Seconds a request body may send nothing before the request is answered 408.
//	MAX_CONNECTIONS                     MaxConnections       1024            Open client connections in all; 0 = no cap (health and metrics keep a reserve).
//	MAX_CONNECTIONS_PER_IP              MaxConnectionsPerIP  64              Open connections per peer IP (IPv6 /64), TRUSTED_PROXIES exempt; 0 = no cap.
//
//	# Database
//	DATABASE_URL            DatabaseURL          -     sqlite:PATH, sqlite:///PATH, sqlite::memory:, postgres:// or postgresql:// URL; empty = sqlite:<TLDW_DATA_DIR>/tldw.db.
//	DATABASE_POOL_SIZE      DatabasePoolSize     20    Maximum open database connections. Alias: DATABASE_POOL_MAX_SIZE.
//	DATABASE_MAX_OVERFLOW   DatabaseMaxOverflow  10    Extra connections allowed above the pool size under load.
//	DATABASE_POOL_MIN_SIZE  DatabasePoolMinSize  5     PostgreSQL connections kept open when idle (SQLite ignores it).
//	TLDW_AUTO_MIGRATE       AutoMigrate          true  Apply pending schema migrations at startup.
//
//	# Redis
//	REDIS_URL              RedisURL             -     redis://, rediss:// or unix:// URL; empty = no Redis (single replica).
//	REDIS_MAX_CONNECTIONS  RedisMaxConnections  50    Maximum Redis connections.
//	REDIS_TIMEOUT_MS       RedisTimeout         100   Milliseconds one Redis call may take before the replica decides alone (local limits, database lockout).
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
//	MAX_API_KEYS_PER_USER             MaxAPIKeysPerUser     20     Live (not revoked, not expired) API keys per user; creating more is refused.
//	AUTH_RETENTION_DAYS               AuthRetentionDays     30     Days login attempts and ended sessions, API keys and registration codes are kept.
//
//	# Rate Limiting
//	RATE_LIMIT_ENABLED       RateLimitEnabled  true        Enforce request rate limits.
//	AUTH_RATE_LIMIT          AuthRateLimit     5/minute    Per-IP limit on login, registration, token refresh and password changes (N/second|minute|hour|day).
//	API_RATE_LIMIT           APIRateLimit      100/minute  Per-user limit on other authenticated API calls, shared by all of a user's sessions and API keys (N/second|minute|hour|day).
//	TRUSTED_PROXIES          TrustedProxies    -           Comma-separated IPs/CIDRs whose X-Forwarded-For / X-Real-IP is trusted.
//	RATE_LIMIT_EXEMPT_ROLES  RateLimitExempt   -           Comma-separated roles (admin, moderator, service, user) exempt from API_RATE_LIMIT.
//
//	# CORS
//	ALLOWED_ORIGINS         AllowedOrigins        -      Comma-separated browser origins (https://host[:port]) or *.
//	CORS_ALLOW_CREDENTIALS  CORSAllowCredentials  false  Let browsers send cookies/credentials cross-origin (not with *).
//	DISABLE_CORS            DisableCORS           false  Send no CORS headers at all.
//
//	# Storage
//	MEDIA_STORAGE_PATH              MediaStoragePath           -           Directory for media files; empty = <TLDW_DATA_DIR>/media.
//	MEDIA_STORAGE_URL               MediaStorageURL            -           Object storage instead of the directory: file://PATH or s3://BUCKET/PREFIX.
//	TEMP_PATH                       TempPath                   -           Directory for temporary files; empty = <TLDW_DATA_DIR>/temp.
//	MAX_UPLOAD_SIZE_MB              MaxUploadSizeMB            500         Largest upload in MB.
//	MEDIA_ADD_MAX_ITEMS             MediaAddMaxItems           100         Inputs (files plus urls) one /media/add request may carry.
//	MEDIA_WORKERS                   MediaWorkers               0           Media processing jobs one server runs at once; 0 = the number of CPUs.
//	MEDIA_MAX_ACTIVE_JOBS_PER_USER  MediaMaxActiveJobsPerUser  2           Processing jobs one user may have running at once, across all servers.
//	MEDIA_ADD_WAIT_SECONDS          MediaAddWait               300         Seconds /media/add waits for processing before answering with the job still running.
//	MEDIA_JOB_TIMEOUT_SECONDS       MediaJobTimeout            1800        Seconds one processing attempt may run; a job left running past it (a dead server) is run again.
//	MEDIA_URL_ALLOWLIST             MediaURLAllowlist          -           Comma-separated CIDRs or host names URL ingest may reach although they are not public (loopback, private, link-local, metadata).
//	MEDIA_OCR_PAGES_PER_DAY         MediaOCRPagesPerDay        500         Pages (and images) one user may have OCR'd per UTC day; 0 = unlimited.
//	MEDIA_URL_FETCH_BYTES_PER_DAY   MediaURLFetchBytesPerDay   1073741824  Bytes one user may have fetched by URL ingest per UTC day; 0 = unlimited.
//	S3_ENDPOINT                     S3Endpoint                 -           host[:port] of the S3 API when MEDIA_STORAGE_URL is s3:// (empty = AWS; MinIO, R2 ...).
//	AWS_REGION                      S3Region                   -           S3 region.
//	AWS_ACCESS_KEY_ID               S3AccessKey                -           S3 access key id; empty = anonymous.
//	AWS_SECRET_ACCESS_KEY           S3SecretKey                -           S3 secret access key.
//
//	# Audio and video
//	STT_PROVIDER                STTProvider          -     Speech-to-text: pocketsphinx, whispercpp, openai (any OpenAI-compatible /v1/audio/transcriptions server), none; empty = pocketsphinx when installed.
//	STT_BASE_URL                STTBaseURL           -     Base URL of the OpenAI-compatible speech-to-text server (STT_PROVIDER=openai); empty = https://api.openai.com.
//	STT_API_KEY                 STTAPIKey            -     API key sent to the speech-to-text server as a Bearer token.
//	STT_MODEL                   STTModel             -     Model asked of the speech-to-text server; empty = whisper-1.
//	STT_MAX_UPLOAD_MB           STTMaxUploadMB       25    Largest audio piece sent to the speech-to-text server; longer audio is split on silence.
//	WHISPER_CPP_PATH            WhisperCppPath       -     whisper.cpp's CLI (STT_PROVIDER=whispercpp); empty = whisper-cli on PATH.
//	WHISPER_CPP_MODEL           WhisperCppModel      -     The ggml model file whisper.cpp loads; setting it selects whispercpp when STT_PROVIDER is empty.
//	YTDLP_PATH                  YtDlpPath            -     yt-dlp for URLs of video sites; empty = yt-dlp on PATH when installed.
//	MEDIA_MAX_DURATION_MINUTES  MediaMaxDuration     240   Longest audio or video processed, uploaded or downloaded, in minutes.
//	AUDIO_TIER_LIMITS_JSON      AudioTierLimitsJSON  -     Audio tiers overriding or adding to free/standard/premium, as {"name":{"daily_minutes":N,"concurrent_streams":N}} (daily_minutes -1 = unlimited).
//	DEFAULT_AUDIO_TIER          DefaultAudioTier     free  Audio tier of users an admin has not given one.
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
//	SESSION_COOKIE_HTTPONLY  SessionCookieHTTPOnly  true                                        Must be true: session cookies are always HttpOnly (false is rejected).
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

	BodyIdleTimeout     time.Duration // request bodies (idleBody in internal/httpapi)
	MaxConnections      int           // connection caps (httpapi.ConnLimits)
	MaxConnectionsPerIP int

	DatabaseURL         DSN
	DatabasePoolSize    int
	DatabaseMaxOverflow int
	DatabasePoolMinSize int
	AutoMigrate         bool

	RedisURL            DSN
	RedisMaxConnections int
	RedisTimeout        time.Duration
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
	MaxAPIKeysPerUser    int
	AuthRetentionDays    int

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

	MediaAddMaxItems int

	// Media processing (durable jobs, media.Pipeline).
	MediaWorkers              int
	MediaMaxActiveJobsPerUser int
	MediaAddWait              time.Duration
	MediaJobTimeout           time.Duration
	MediaURLAllowlist         []string
	MediaOCRPagesPerDay       int64
	MediaURLFetchBytesPerDay  int64

	// Audio and video: the speech-to-text adapter, yt-dlp, the audio tiers.
	STTProvider         string
	STTBaseURL          string
	STTAPIKey           Secret
	STTModel            string
	STTMaxUploadMB      int64
	WhisperCppPath      string
	WhisperCppModel     string
	YtDlpPath           string
	MediaMaxDuration    time.Duration
	AudioTierLimitsJSON string
	DefaultAudioTier    string

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

		BodyIdleTimeout:     30 * time.Second,
		MaxConnections:      1024,
		MaxConnectionsPerIP: 64,

		DatabasePoolSize:    20,
		DatabaseMaxOverflow: 10,
		DatabasePoolMinSize: 5,
		AutoMigrate:         true,

		RedisMaxConnections: 50,
		RedisTimeout:        100 * time.Millisecond,
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
		MaxAPIKeysPerUser:    20,
		AuthRetentionDays:    30,

		RateLimitEnabled: true,
		AuthRateLimit:    Rate{N: 5, Per: time.Minute},
		APIRateLimit:     Rate{N: 100, Per: time.Minute},

		MaxUploadSizeMB: 500,

		MediaAddMaxItems: 100,

		MediaMaxActiveJobsPerUser: 2,
		MediaAddWait:              300 * time.Second,
		MediaJobTimeout:           1800 * time.Second,
		MediaOCRPagesPerDay:       500,
		MediaURLFetchBytesPerDay:  1 << 30,

		STTMaxUploadMB:   25,
		MediaMaxDuration: 240 * time.Minute,
		DefaultAudioTier: "free",

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
	within := func(key string, n, min, max int64) {
		if n < min || n > max {
			bad("%s must be from %d to %d (got %d)", key, min, max, n)
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
	within("SERVER_MAX_HEADER_BYTES", int64(c.MaxHeaderBytes), 1024, 64<<20)
	if c.ShutdownDelay < 0 {
		bad("SHUTDOWN_DELAY_SECONDS must not be negative")
	}
	if c.DrainTimeout < 0 {
		bad("SHUTDOWN_DRAIN_SECONDS must not be negative")
	}
	positive("REQUEST_BODY_IDLE_TIMEOUT_SECONDS", c.BodyIdleTimeout)
	atLeast("MAX_CONNECTIONS", int64(c.MaxConnections), 0)
	atLeast("MAX_CONNECTIONS_PER_IP", int64(c.MaxConnectionsPerIP), 0)

	// Database
	if c.DatabaseKind() == "" {
		bad("DATABASE_URL: %q is not a supported database URL (want sqlite:PATH, sqlite:///PATH, sqlite::memory:, postgres://... or postgresql://...)", c.DatabaseURL)
	} else if s := c.DatabaseURL.Reveal(); c.DatabaseKind() == "postgres" {
		if u, err := url.Parse(s); err != nil {
			bad("DATABASE_URL: %q is not a valid URL", c.DatabaseURL)
		} else if !validPort(u.Port()) {
			bad("DATABASE_URL: port %q is not a number from 1 to 65535", u.Port())
		}
	}
	within("DATABASE_POOL_SIZE", int64(c.DatabasePoolSize), 1, maxConns)
	within("DATABASE_MAX_OVERFLOW", int64(c.DatabaseMaxOverflow), 0, maxConns)
	within("DATABASE_POOL_MIN_SIZE", int64(c.DatabasePoolMinSize), 0, maxConns)
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
		case !validPort(u.Port()):
			bad("REDIS_URL: port %q is not a number from 1 to 65535", u.Port())
		}
	}
	within("REDIS_MAX_CONNECTIONS", int64(c.RedisMaxConnections), 1, maxConns)
	within("REDIS_TIMEOUT_MS", c.RedisTimeout.Milliseconds(), 10, 10_000)
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
	within("DEFAULT_STORAGE_QUOTA_MB", c.DefaultStorageQuotaMB, 0, MaxStorageMB)
	within("REGISTRATION_CODE_DEFAULT_EXPIRY_DAYS", int64(c.RegistrationCodeDefaultExpiryDays), 1, maxDays)
	within("REGISTRATION_CODE_DEFAULT_MAX_USES", int64(c.RegistrationCodeDefaultMaxUses), 1, 1_000_000)
	within("MAX_BATCH_REGISTRATION_CODES", int64(c.MaxBatchRegistrationCodes), 1, 10_000)

	// Passwords and lockout
	within("PASSWORD_MIN_LENGTH", int64(c.PasswordMinLength), 8, 128)
	within("ARGON2_MEMORY_COST", int64(c.Argon2MemoryKiB), 8192, 4<<20)
	within("ARGON2_TIME_COST", int64(c.Argon2Time), 1, 100)
	atLeast("ARGON2_PARALLELISM", int64(c.Argon2Parallelism), 1)
	within("PASSWORD_HISTORY_RETENTION_COUNT", int64(c.PasswordHistoryCount), 0, 100)
	within("MAX_LOGIN_ATTEMPTS", int64(c.MaxLoginAttempts), 1, 1000)
	positive("LOCKOUT_DURATION_MINUTES", c.LockoutDuration)
	within("MAX_SESSIONS_PER_USER", int64(c.MaxSessionsPerUser), 1, 10_000)
	within("MAX_API_KEYS_PER_USER", int64(c.MaxAPIKeysPerUser), 1, 10_000)
	within("AUTH_RETENTION_DAYS", int64(c.AuthRetentionDays), 1, maxDays)

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
			bad("ALLOWED_ORIGINS: %q is not an origin: %v", redactUserinfo(o), err)
		}
	}

	// Storage
	if c.MediaStorageURL != "" {
		if err := checkStorageURL(c.MediaStorageURL); err != nil {
			bad("MEDIA_STORAGE_URL: %q %v", redactURL(c.MediaStorageURL), err)
		}
	}
	within("MAX_UPLOAD_SIZE_MB", c.MaxUploadSizeMB, 1, MaxStorageMB)
	within("MEDIA_ADD_MAX_ITEMS", int64(c.MediaAddMaxItems), 1, 10_000)
	within("MEDIA_WORKERS", int64(c.MediaWorkers), 0, 1024)
	within("MEDIA_MAX_ACTIVE_JOBS_PER_USER", int64(c.MediaMaxActiveJobsPerUser), 1, 1024)
	within("MEDIA_ADD_WAIT_SECONDS", int64(c.MediaAddWait/time.Second), 0, 86_400)
	within("MEDIA_JOB_TIMEOUT_SECONDS", int64(c.MediaJobTimeout/time.Second), 1, 7*86_400)
	within("MEDIA_OCR_PAGES_PER_DAY", c.MediaOCRPagesPerDay, 0, 100_000_000)
	within("MEDIA_URL_FETCH_BYTES_PER_DAY", c.MediaURLFetchBytesPerDay, 0, 1<<50)
	switch c.STTProvider {
	case "", "pocketsphinx", "whispercpp", "openai", "none":
	default:
		bad("STT_PROVIDER: %q is not a provider (want pocketsphinx, whispercpp, openai or none)", c.STTProvider)
	}
	if c.STTBaseURL != "" {
		if u, err := url.Parse(c.STTBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("STT_BASE_URL: %q is not an http(s) URL", redactURL(c.STTBaseURL))
		}
	}
	within("STT_MAX_UPLOAD_MB", c.STTMaxUploadMB, 1, 1024)
	within("MEDIA_MAX_DURATION_MINUTES", int64(c.MediaMaxDuration/time.Minute), 1, 7*24*60)
	if c.STTProvider == "whispercpp" && c.WhisperCppModel == "" {
		bad("STT_PROVIDER=whispercpp needs WHISPER_CPP_MODEL (the ggml model file)")
	}
	for _, e := range c.MediaURLAllowlist {
		_, perr := netip.ParsePrefix(e)
		_, aerr := netip.ParseAddr(e)
		if perr != nil && aerr != nil && (e == "" || strings.ContainsAny(e, "/:@ ")) {
			bad("MEDIA_URL_ALLOWLIST: %q is neither a CIDR nor a host name", e)
		}
	}

	// Logging
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("LOG_FORMAT: %q is not a format (want text or json)", c.LogFormat)
	}
	if c.AuditLogFormat != "text" && c.AuditLogFormat != "json" {
		bad("AUDIT_LOG_FORMAT: %q is not a format (want text or json)", c.AuditLogFormat)
	}
	within("AUDIT_LOG_RETENTION_DAYS", int64(c.AuditLogRetentionDays), 0, maxDays)
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
	if !c.SessionCookieHTTPOnly {
		bad("SESSION_COOKIE_HTTPONLY=false is not supported: session cookies are always HttpOnly so page scripts cannot read them; remove the key")
	}
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
			bad("TRUSTED_HOSTS: %q is not a host name (want host, host:port or *.domain)", redactUserinfo(h))
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
	within("HEALTH_MIN_FREE_DISK_MB", c.HealthMinFreeDiskMB, 0, MaxStorageMB)

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

// validPort reports whether a URL's port is empty or a number from 1 to 65535.
func validPort(p string) bool {
	if p == "" {
		return true
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
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
	case u.User != nil:
		return errors.New("must not carry credentials (use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
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
