package tldw

// The key table: one entry per configuration key, driving FromEnv, Redacted, the doc table
// in config.go and .env.example.

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

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
		durKey("REQUEST_BODY_IDLE_TIMEOUT_SECONDS", "BodyIdleTimeout", "Seconds a request body may send nothing before the request is answered 408.", time.Second, func(c *Config) *time.Duration { return &c.BodyIdleTimeout }),
		intKey("MAX_CONNECTIONS", "MaxConnections", "Open client connections in all; 0 = no cap (health and metrics keep a reserve).", func(c *Config) *int { return &c.MaxConnections }),
		intKey("MAX_CONNECTIONS_PER_IP", "MaxConnectionsPerIP", "Open connections per peer IP (IPv6 /64), TRUSTED_PROXIES exempt; 0 = no cap.", func(c *Config) *int { return &c.MaxConnectionsPerIP }),
	)
	group("Database",
		dsnKey("DATABASE_URL", "DatabaseURL", "sqlite:PATH, sqlite:///PATH, sqlite::memory:, postgres:// or postgresql:// URL; empty = sqlite:<TLDW_DATA_DIR>/tldw.db.", func(c *Config) *DSN { return &c.DatabaseURL }),
		intKey("DATABASE_POOL_SIZE", "DatabasePoolSize", "Maximum open database connections.", func(c *Config) *int { return &c.DatabasePoolSize }).alias("DATABASE_POOL_MAX_SIZE"),
		intKey("DATABASE_MAX_OVERFLOW", "DatabaseMaxOverflow", "Extra connections allowed above the pool size under load.", func(c *Config) *int { return &c.DatabaseMaxOverflow }),
		intKey("DATABASE_POOL_MIN_SIZE", "DatabasePoolMinSize", "PostgreSQL connections kept open when idle (SQLite ignores it).", func(c *Config) *int { return &c.DatabasePoolMinSize }),
		boolKey("TLDW_AUTO_MIGRATE", "AutoMigrate", "Apply pending schema migrations at startup.", func(c *Config) *bool { return &c.AutoMigrate }),
	)
	group("Redis",
		dsnKey("REDIS_URL", "RedisURL", "redis://, rediss:// or unix:// URL; empty = no Redis (single replica).", func(c *Config) *DSN { return &c.RedisURL }),
		intKey("REDIS_MAX_CONNECTIONS", "RedisMaxConnections", "Maximum Redis connections.", func(c *Config) *int { return &c.RedisMaxConnections }),
		durKey("REDIS_TIMEOUT_MS", "RedisTimeout", "Milliseconds one Redis call may take before the replica decides alone (local limits, database lockout).", time.Millisecond, func(c *Config) *time.Duration { return &c.RedisTimeout }),
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
		intKey("MAX_API_KEYS_PER_USER", "MaxAPIKeysPerUser", "Live (not revoked, not expired) API keys per user; creating more is refused.", func(c *Config) *int { return &c.MaxAPIKeysPerUser }),
		intKey("AUTH_RETENTION_DAYS", "AuthRetentionDays", "Days login attempts and ended sessions, API keys and registration codes are kept.", func(c *Config) *int { return &c.AuthRetentionDays }),
	)
	group("Rate Limiting",
		boolKey("RATE_LIMIT_ENABLED", "RateLimitEnabled", "Enforce request rate limits.", func(c *Config) *bool { return &c.RateLimitEnabled }),
		rateKey("AUTH_RATE_LIMIT", "AuthRateLimit", "Per-IP limit on login, registration, token refresh and password changes (N/second|minute|hour|day).", func(c *Config) *Rate { return &c.AuthRateLimit }),
		rateKey("API_RATE_LIMIT", "APIRateLimit", "Per-user limit on other authenticated API calls, shared by all of a user's sessions and API keys (N/second|minute|hour|day).", func(c *Config) *Rate { return &c.APIRateLimit }),
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
		urlKey("MEDIA_STORAGE_URL", "MediaStorageURL", "Object storage instead of the directory: file://PATH or s3://BUCKET/PREFIX.", func(c *Config) *string { return &c.MediaStorageURL }),
		strKey("TEMP_PATH", "TempPath", "Directory for temporary files; empty = <TLDW_DATA_DIR>/temp.", func(c *Config) *string { return &c.TempPath }),
		intKey("MAX_UPLOAD_SIZE_MB", "MaxUploadSizeMB", "Largest upload in MB.", func(c *Config) *int64 { return &c.MaxUploadSizeMB }),
		intKey("MEDIA_ADD_MAX_ITEMS", "MediaAddMaxItems", "Inputs (files plus urls) one /media/add request may carry.", func(c *Config) *int { return &c.MediaAddMaxItems }),
		intKey("MEDIA_WORKERS", "MediaWorkers", "Media processing jobs one server runs at once; 0 = the number of CPUs.", func(c *Config) *int { return &c.MediaWorkers }),
		intKey("MEDIA_MAX_ACTIVE_JOBS_PER_USER", "MediaMaxActiveJobsPerUser", "Processing jobs one user may have running at once, across all servers.", func(c *Config) *int { return &c.MediaMaxActiveJobsPerUser }),
		durKey("MEDIA_ADD_WAIT_SECONDS", "MediaAddWait", "Seconds /media/add waits for processing before answering with the job still running.", time.Second, func(c *Config) *time.Duration { return &c.MediaAddWait }),
		durKey("MEDIA_JOB_TIMEOUT_SECONDS", "MediaJobTimeout", "Seconds one processing attempt may run; a job left running past it (a dead server) is run again.", time.Second, func(c *Config) *time.Duration { return &c.MediaJobTimeout }),
		listKey("MEDIA_URL_ALLOWLIST", "MediaURLAllowlist", "Comma-separated CIDRs or host names URL ingest may reach although they are not public (loopback, private, link-local, metadata).", func(c *Config) *[]string { return &c.MediaURLAllowlist }),
		intKey("MEDIA_OCR_PAGES_PER_DAY", "MediaOCRPagesPerDay", "Pages (and images) one user may have OCR'd per UTC day; 0 = unlimited.", func(c *Config) *int64 { return &c.MediaOCRPagesPerDay }),
		intKey("MEDIA_URL_FETCH_BYTES_PER_DAY", "MediaURLFetchBytesPerDay", "Bytes one user may have fetched by URL ingest per UTC day; 0 = unlimited.", func(c *Config) *int64 { return &c.MediaURLFetchBytesPerDay }),
		strKey("S3_ENDPOINT", "S3Endpoint", "host[:port] of the S3 API when MEDIA_STORAGE_URL is s3:// (empty = AWS; MinIO, R2 ...).", func(c *Config) *string { return &c.S3Endpoint }),
		strKey("AWS_REGION", "S3Region", "S3 region.", func(c *Config) *string { return &c.S3Region }),
		strKey("AWS_ACCESS_KEY_ID", "S3AccessKey", "S3 access key id; empty = anonymous.", func(c *Config) *string { return &c.S3AccessKey }),
		secretKey("AWS_SECRET_ACCESS_KEY", "S3SecretKey", "S3 secret access key.", func(c *Config) *Secret { return &c.S3SecretKey }),
	)
	group("Audio and video",
		lowerKey("STT_PROVIDER", "STTProvider", "Speech-to-text: pocketsphinx, whispercpp, openai (any OpenAI-compatible /v1/audio/transcriptions server), none; empty = pocketsphinx when installed.", func(c *Config) *string { return &c.STTProvider }),
		urlKey("STT_BASE_URL", "STTBaseURL", "Base URL of the OpenAI-compatible speech-to-text server (STT_PROVIDER=openai); empty = https://api.openai.com.", func(c *Config) *string { return &c.STTBaseURL }),
		secretKey("STT_API_KEY", "STTAPIKey", "API key sent to the speech-to-text server as a Bearer token.", func(c *Config) *Secret { return &c.STTAPIKey }),
		strKey("STT_MODEL", "STTModel", "Model asked of the speech-to-text server; empty = whisper-1.", func(c *Config) *string { return &c.STTModel }),
		intKey("STT_MAX_UPLOAD_MB", "STTMaxUploadMB", "Largest audio piece sent to the speech-to-text server; longer audio is split on silence.", func(c *Config) *int64 { return &c.STTMaxUploadMB }),
		strKey("WHISPER_CPP_PATH", "WhisperCppPath", "whisper.cpp's CLI (STT_PROVIDER=whispercpp); empty = whisper-cli on PATH.", func(c *Config) *string { return &c.WhisperCppPath }),
		strKey("WHISPER_CPP_MODEL", "WhisperCppModel", "The ggml model file whisper.cpp loads; setting it selects whispercpp when STT_PROVIDER is empty.", func(c *Config) *string { return &c.WhisperCppModel }),
		strKey("YTDLP_PATH", "YtDlpPath", "yt-dlp for URLs of video sites; empty = yt-dlp on PATH when installed.", func(c *Config) *string { return &c.YtDlpPath }),
		durKey("MEDIA_MAX_DURATION_MINUTES", "MediaMaxDuration", "Longest audio or video processed, uploaded or downloaded, in minutes.", time.Minute, func(c *Config) *time.Duration { return &c.MediaMaxDuration }),
		strKey("AUDIO_TIER_LIMITS_JSON", "AudioTierLimitsJSON", `Audio tiers overriding or adding to free/standard/premium, as {"name":{"daily_minutes":N,"concurrent_streams":N}} (daily_minutes -1 = unlimited).`, func(c *Config) *string { return &c.AudioTierLimitsJSON }),
		lowerKey("DEFAULT_AUDIO_TIER", "DefaultAudioTier", "Audio tier of users an admin has not given one.", func(c *Config) *string { return &c.DefaultAudioTier }),
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
		boolKey("SESSION_COOKIE_HTTPONLY", "SessionCookieHTTPOnly", "Must be true: session cookies are always HttpOnly (false is rejected).", func(c *Config) *bool { return &c.SessionCookieHTTPOnly }),
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

// urlKey is a strKey for URLs that may embed credentials: formatted with the password
// redacted.
func urlKey(key, field, meaning string, p func(*Config) *string) entry {
	e := strKey(key, field, meaning, p)
	e.format = func(c *Config) string { return redactURL(*p(c)) }
	return e
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
