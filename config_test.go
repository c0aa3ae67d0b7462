package tldw

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/joho/godotenv"
)

// env returns a lookup function over m, as FromEnv expects.
func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaultConfigValidates(t *testing.T) {
	def := DefaultConfig()
	if err := def.Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	if w := def.Warnings(); len(w) != 0 {
		t.Errorf("DefaultConfig().Warnings() = %q, want none", w)
	}
	got, err := FromEnv(env(nil))
	if err != nil {
		t.Fatalf("FromEnv(empty) error: %v", err)
	}
	if !reflect.DeepEqual(got, def) {
		t.Errorf("FromEnv(empty) = %+v\nwant DefaultConfig() %+v", got, def)
	}
}

// everyKey sets every key to a valid, non-default value; everyKeyConfig is the result.
var everyKey = map[string]string{
	"AUTH_MODE":                             "Single_User",
	"PROFILE":                               "multi-user-postgres",
	"TLDW_ADDR":                             "0.0.0.0:9000",
	"TLDW_DATA_DIR":                         "/var/lib/tldw",
	"SERVER_READ_HEADER_TIMEOUT_SECONDS":    "5",
	"SERVER_READ_TIMEOUT_SECONDS":           "60",
	"SERVER_WRITE_TIMEOUT_SECONDS":          "70",
	"SERVER_IDLE_TIMEOUT_SECONDS":           "80",
	"SERVER_MAX_HEADER_BYTES":               "32768",
	"SHUTDOWN_DELAY_SECONDS":                "5",
	"SHUTDOWN_DRAIN_SECONDS":                "45",
	"DATABASE_URL":                          "postgresql://tldw_user:s3cret-db-pw@db.internal/tldw_multiuser",
	"DATABASE_POOL_SIZE":                    "40",
	"DATABASE_MAX_OVERFLOW":                 "0",
	"DATABASE_POOL_MIN_SIZE":                "2",
	"TLDW_AUTO_MIGRATE":                     "no",
	"REDIS_URL":                             "redis://:s3cret-redis-pw@cache:6379/1",
	"REDIS_MAX_CONNECTIONS":                 "10",
	"REDIS_TIMEOUT_MS":                      "250",
	"SESSION_CACHE_TTL":                     "120",
	"JWT_SECRET_KEY":                        "0123456789abcdef0123456789abcdef-jwt",
	"JWT_ALGORITHM":                         "eddsa",
	"JWT_PRIVATE_KEY":                       "/etc/tldw/jwt.key",
	"JWT_PUBLIC_KEY":                        "/etc/tldw/jwt.pub",
	"JWT_PREVIOUS_SECRET_KEYS":              "old-secret-number-one-0123456789abcdef, old-secret-number-two-0123456789abcdef",
	"JWT_SECONDARY_SECRET":                  "secondary-secret-0123456789abcdef0123",
	"JWT_ISSUER":                            "https://tldw.example.com",
	"JWT_AUDIENCE":                          "tldw-clients",
	"ACCESS_TOKEN_EXPIRE_MINUTES":           "60",
	"REFRESH_TOKEN_EXPIRE_DAYS":             "30",
	"ROTATE_REFRESH_TOKENS":                 "OFF",
	"API_KEY_PEPPER":                        "api-key-pepper-0123456789abcdefghijklmnop",
	"RATE_LIMIT_EXEMPT_ROLES":               "admin,service",
	"SINGLE_USER_API_KEY":                   "single-user-key-0123456789abcdef",
	"SINGLE_USER_FIXED_ID":                  "42",
	"SINGLE_USER_ALLOWED_IPS":               "10.0.0.0/8, 192.168.1.7,::1",
	"ENABLE_REGISTRATION":                   "TRUE",
	"REQUIRE_REGISTRATION_CODE":             "0",
	"DEFAULT_USER_ROLE":                     "Moderator",
	"DEFAULT_STORAGE_QUOTA_MB":              "0",
	"REGISTRATION_CODE_DEFAULT_EXPIRY_DAYS": "14",
	"REGISTRATION_CODE_DEFAULT_MAX_USES":    "3",
	"MAX_BATCH_REGISTRATION_CODES":          "10",
	"PASSWORD_MIN_LENGTH":                   "12",
	"ARGON2_MEMORY_COST":                    "65536",
	"ARGON2_TIME_COST":                      "3",
	"ARGON2_PARALLELISM":                    "4",
	"PASSWORD_HISTORY_RETENTION_COUNT":      "0",
	"MAX_LOGIN_ATTEMPTS":                    "3",
	"LOCKOUT_DURATION_MINUTES":              "30",
	"MAX_SESSIONS_PER_USER":                 "5",
	"MAX_API_KEYS_PER_USER":                 "6",
	"AUTH_RETENTION_DAYS":                   "9",
	"RATE_LIMIT_ENABLED":                    "0",
	"AUTH_RATE_LIMIT":                       "10/second",
	"API_RATE_LIMIT":                        "1000/hour",
	"TRUSTED_PROXIES":                       "127.0.0.1,10.1.2.0/24",
	"ALLOWED_ORIGINS":                       "https://yourdomain.com,https://www.yourdomain.com",
	"CORS_ALLOW_CREDENTIALS":                "true",
	"DISABLE_CORS":                          "1",
	"MEDIA_STORAGE_PATH":                    "/var/lib/tldw/media",
	"MEDIA_STORAGE_URL":                     "s3://tldw-media/prod",
	"TEMP_PATH":                             "/var/lib/tldw/temp",
	"MAX_UPLOAD_SIZE_MB":                    "2048",
	"MEDIA_ADD_MAX_ITEMS":                   "250",
	"MEDIA_WORKERS":                         "6",
	"MEDIA_MAX_ACTIVE_JOBS_PER_USER":        "3",
	"MEDIA_ADD_WAIT_SECONDS":                "120",
	"MEDIA_JOB_TIMEOUT_SECONDS":             "900",
	"MEDIA_URL_ALLOWLIST":                   "10.9.0.0/16,files.internal",
	"MEDIA_OCR_PAGES_PER_DAY":               "50",
	"MEDIA_URL_FETCH_BYTES_PER_DAY":         "1000000",
	"STT_PROVIDER":                          "OpenAI",
	"STT_BASE_URL":                          "http://stt.internal:8000",
	"STT_API_KEY":                           "sk-stt-0123456789",
	"STT_MODEL":                             "Systran/faster-whisper-small",
	"STT_MAX_UPLOAD_MB":                     "10",
	"WHISPER_CPP_PATH":                      "/opt/whisper/whisper-cli",
	"WHISPER_CPP_MODEL":                     "/opt/whisper/ggml-base.en.bin",
	"YTDLP_PATH":                            "/usr/local/bin/yt-dlp",
	"MEDIA_MAX_DURATION_MINUTES":            "90",
	"AUDIO_TIER_LIMITS_JSON":                `{"team":{"daily_minutes":600,"concurrent_streams":4}}`,
	"DEFAULT_AUDIO_TIER":                    "Standard",
	"REQUEST_BODY_IDLE_TIMEOUT_SECONDS":     "15",
	"MAX_CONNECTIONS":                       "500",
	"MAX_CONNECTIONS_PER_IP":                "0",
	"LOG_LEVEL":                             "warning",
	"LOG_FORMAT":                            "JSON",
	"LOG_FILE":                              "/var/log/tldw/app.log",
	"AUDIT_LOG_FILE":                        "/var/log/tldw/audit.log",
	"AUDIT_LOG_FORMAT":                      "json",
	"AUDIT_LOG_RETENTION_DAYS":              "0",
	"AUDIT_CHECKPOINT_INTERVAL_SECONDS":     "60",
	"S3_ENDPOINT":                           "minio:9000",
	"AWS_REGION":                            "eu-west-1",
	"AWS_ACCESS_KEY_ID":                     "AKIAEXAMPLE",
	"AWS_SECRET_ACCESS_KEY":                 "s3-secret-example-0123456789",
	"AUDIT_HMAC_KEY":                        "audit-hmac-key-0123456789abcdefghijklmnop",
	"SECURE_COOKIES":                        "yes",
	"SESSION_COOKIE_HTTPONLY":               "true",
	"SESSION_COOKIE_SAMESITE":               "Strict",
	"AUTH_COOKIES":                          "on",
	"TRUSTED_HOSTS":                         "yourdomain.com,www.yourdomain.com",
	"CSP_DIRECTIVES":                        `"default-src 'self'; script-src 'self' 'unsafe-inline'"`,
	"ENABLE_METRICS":                        "false",
	"METRICS_ALLOWED_CIDRS":                 "10.0.0.0/8,fd00::/8",
	"METRICS_TOKEN":                         "metrics-token-0123456789",
	"HEALTH_MIN_FREE_DISK_MB":               "0",
	"TLDW_ADMIN_USERNAME":                   "root",
	"TLDW_ADMIN_EMAIL":                      "root@example.com",
	"TLDW_ADMIN_PASSWORD":                   "Adm1n-P@ssw0rd-Strong",
}

func everyKeyConfig() Config {
	pfx := netip.MustParsePrefix
	return Config{
		AuthMode:          "single_user",
		Profile:           "multi-user-postgres",
		Addr:              "0.0.0.0:9000",
		DataDir:           "/var/lib/tldw",
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      70 * time.Second,
		IdleTimeout:       80 * time.Second,
		MaxHeaderBytes:    32768,
		ShutdownDelay:     5 * time.Second,
		DrainTimeout:      45 * time.Second,

		BodyIdleTimeout:     15 * time.Second,
		MaxConnections:      500,
		MaxConnectionsPerIP: 0,
		MediaAddMaxItems:    250,

		MediaWorkers: 6, MediaMaxActiveJobsPerUser: 3, MediaAddWait: 120 * time.Second, MediaJobTimeout: 900 * time.Second,
		MediaURLAllowlist: []string{"10.9.0.0/16", "files.internal"}, MediaOCRPagesPerDay: 50, MediaURLFetchBytesPerDay: 1000000,
		STTProvider: "openai", STTBaseURL: "http://stt.internal:8000", STTAPIKey: "sk-stt-0123456789",
		STTModel: "Systran/faster-whisper-small", STTMaxUploadMB: 10, WhisperCppPath: "/opt/whisper/whisper-cli",
		WhisperCppModel: "/opt/whisper/ggml-base.en.bin", YtDlpPath: "/usr/local/bin/yt-dlp", MediaMaxDuration: 90 * time.Minute,
		AudioTierLimitsJSON: `{"team":{"daily_minutes":600,"concurrent_streams":4}}`, DefaultAudioTier: "standard",

		DatabaseURL:         "postgresql://tldw_user:s3cret-db-pw@db.internal/tldw_multiuser",
		DatabasePoolSize:    40,
		DatabaseMaxOverflow: 0,
		DatabasePoolMinSize: 2,
		AutoMigrate:         false,

		RedisURL:            "redis://:s3cret-redis-pw@cache:6379/1",
		RedisMaxConnections: 10,
		RedisTimeout:        250 * time.Millisecond,
		SessionCacheTTL:     2 * time.Minute,

		JWTSecretKey:      "0123456789abcdef0123456789abcdef-jwt",
		JWTAlgorithm:      "EdDSA",
		JWTPrivateKeyFile: "/etc/tldw/jwt.key",
		JWTPublicKeyFile:  "/etc/tldw/jwt.pub",
		JWTPreviousSecretKeys: []Secret{
			"old-secret-number-one-0123456789abcdef",
			"old-secret-number-two-0123456789abcdef",
			"secondary-secret-0123456789abcdef0123",
		},
		JWTIssuer:           "https://tldw.example.com",
		JWTAudience:         "tldw-clients",
		AccessTokenExpire:   time.Hour,
		RefreshTokenExpire:  30 * 24 * time.Hour,
		RotateRefreshTokens: false,
		APIKeyPepper:        "api-key-pepper-0123456789abcdefghijklmnop",

		SingleUserAPIKey:     "single-user-key-0123456789abcdef",
		SingleUserFixedID:    42,
		SingleUserAllowedIPs: []netip.Prefix{pfx("10.0.0.0/8"), pfx("192.168.1.7/32"), pfx("::1/128")},

		EnableRegistration:                true,
		RequireRegistrationCode:           false,
		DefaultUserRole:                   "moderator",
		DefaultStorageQuotaMB:             0,
		RegistrationCodeDefaultExpiryDays: 14,
		RegistrationCodeDefaultMaxUses:    3,
		MaxBatchRegistrationCodes:         10,

		PasswordMinLength:    12,
		Argon2MemoryKiB:      65536,
		Argon2Time:           3,
		Argon2Parallelism:    4,
		PasswordHistoryCount: 0,
		MaxLoginAttempts:     3,
		LockoutDuration:      30 * time.Minute,
		MaxSessionsPerUser:   5,
		MaxAPIKeysPerUser:    6,
		AuthRetentionDays:    9,

		RateLimitEnabled: false,
		AuthRateLimit:    Rate{N: 10, Per: time.Second},
		APIRateLimit:     Rate{N: 1000, Per: time.Hour},
		TrustedProxies:   []netip.Prefix{pfx("127.0.0.1/32"), pfx("10.1.2.0/24")},
		RateLimitExempt:  []string{"admin", "service"},

		AllowedOrigins:       []string{"https://yourdomain.com", "https://www.yourdomain.com"},
		CORSAllowCredentials: true,
		DisableCORS:          true,

		MediaStoragePath: "/var/lib/tldw/media",
		MediaStorageURL:  "s3://tldw-media/prod",
		TempPath:         "/var/lib/tldw/temp",
		MaxUploadSizeMB:  2048,

		LogLevel:                slog.LevelWarn,
		LogFormat:               "json",
		LogFile:                 "/var/log/tldw/app.log",
		AuditLogFile:            "/var/log/tldw/audit.log",
		AuditLogFormat:          "json",
		AuditLogRetentionDays:   0,
		AuditCheckpointInterval: time.Minute,
		S3Endpoint:              "minio:9000",
		S3Region:                "eu-west-1",
		S3AccessKey:             "AKIAEXAMPLE",
		S3SecretKey:             "s3-secret-example-0123456789",
		AuditHMACKey:            "audit-hmac-key-0123456789abcdefghijklmnop",

		SecureCookies:         true,
		SessionCookieHTTPOnly: true,
		SessionCookieSameSite: "strict",
		AuthCookies:           true,
		TrustedHosts:          []string{"yourdomain.com", "www.yourdomain.com"},
		CSPDirectives:         "default-src 'self'; script-src 'self' 'unsafe-inline'",

		EnableMetrics:       false,
		MetricsAllowedCIDRs: []netip.Prefix{pfx("10.0.0.0/8"), pfx("fd00::/8")},
		MetricsToken:        "metrics-token-0123456789",
		HealthMinFreeDiskMB: 0,

		AdminUsername: "root",
		AdminEmail:    "root@example.com",
		AdminPassword: "Adm1n-P@ssw0rd-Strong",
	}
}

func TestFromEnvEveryKey(t *testing.T) {
	// The map must name every key of the table, so a new key cannot go untested.
	for _, e := range configKeys() {
		if _, ok := everyKey[e.Key]; !ok {
			t.Errorf("everyKey lacks %s", e.Key)
		}
	}
	got, err := FromEnv(env(everyKey))
	if err != nil {
		t.Fatalf("FromEnv: %v", err)
	}
	want := everyKeyConfig()
	if !reflect.DeepEqual(got, want) {
		gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
		for i := range gv.NumField() {
			if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
				t.Errorf("%s = %#v, want %#v", gv.Type().Field(i).Name, gv.Field(i).Interface(), wv.Field(i).Interface())
			}
		}
	}
	// Every field must differ from its default, so the test sees each key take effect
	// (SessionCookieHTTPOnly has one valid value).
	dv, wv := reflect.ValueOf(DefaultConfig()), reflect.ValueOf(want)
	for i := range dv.NumField() {
		if dv.Type().Field(i).Name == "SessionCookieHTTPOnly" {
			continue
		}
		if reflect.DeepEqual(dv.Field(i).Interface(), wv.Field(i).Interface()) {
			t.Errorf("everyKey leaves %s at its default; pick another value", dv.Type().Field(i).Name)
		}
	}
}

// TestKeyTableFields checks that each entry sets exactly the field it names, and that every
// Config field has exactly one key.
func TestKeyTableFields(t *testing.T) {
	typ := reflect.TypeOf(Config{})
	seen := map[string]string{}
	for _, e := range configKeys() {
		if _, ok := typ.FieldByName(e.Field); !ok {
			t.Errorf("%s: Config has no field %s", e.Key, e.Field)
			continue
		}
		if other, dup := seen[e.Field]; dup {
			t.Errorf("%s and %s both set %s", e.Key, other, e.Field)
		}
		seen[e.Field] = e.Key
		if e.Group == "" || e.Meaning == "" || e.parse == nil || e.format == nil {
			t.Errorf("%s: incomplete entry", e.Key)
		}
		before := DefaultConfig()
		after := before
		if err := e.parse(&after, everyKey[e.Key]); err != nil {
			t.Errorf("%s: parse(%q): %v", e.Key, everyKey[e.Key], err)
			continue
		}
		bv, av := reflect.ValueOf(before), reflect.ValueOf(after)
		for i := range typ.NumField() {
			name := typ.Field(i).Name
			changed := !reflect.DeepEqual(bv.Field(i).Interface(), av.Field(i).Interface())
			if changed && name != e.Field {
				t.Errorf("%s changed %s, but the table says it sets %s", e.Key, name, e.Field)
			}
			if !changed && name == e.Field && name != "SessionCookieHTTPOnly" { // its one valid value is the default
				t.Errorf("%s=%q left %s unchanged", e.Key, everyKey[e.Key], name)
			}
		}
	}
	for i := range typ.NumField() {
		if _, ok := seen[typ.Field(i).Name]; !ok {
			t.Errorf("Config.%s has no key in configKeys", typ.Field(i).Name)
		}
	}
}

func TestFromEnvMalformed(t *testing.T) {
	tests := []struct {
		key, value string
		want       string // substring of the error
	}{
		{"ENABLE_REGISTRATION", "maybe", `ENABLE_REGISTRATION: "maybe" is not a boolean`},
		{"TLDW_AUTO_MIGRATE", "2", `TLDW_AUTO_MIGRATE: "2" is not a boolean`},
		{"DATABASE_POOL_SIZE", "twenty", `DATABASE_POOL_SIZE: "twenty" is not an integer`},
		{"DATABASE_POOL_SIZE", "1.5", `DATABASE_POOL_SIZE: "1.5" is not an integer`},
		{"DATABASE_POOL_SIZE", "99999999999999999999", `DATABASE_POOL_SIZE: "99999999999999999999" is out of range`},
		{"ARGON2_PARALLELISM", "300", `ARGON2_PARALLELISM: "300" is out of range`},
		{"ARGON2_MEMORY_COST", "-1", `ARGON2_MEMORY_COST: "-1" is out of range`},
		{"ACCESS_TOKEN_EXPIRE_MINUTES", "30m", `ACCESS_TOKEN_EXPIRE_MINUTES: "30m" is not an integer`},
		{"REFRESH_TOKEN_EXPIRE_DAYS", "9999999999", `REFRESH_TOKEN_EXPIRE_DAYS: "9999999999" is out of range`},
		{"AUTH_RATE_LIMIT", "5/fortnight", `AUTH_RATE_LIMIT: "5/fortnight" is not a rate (want N/second|minute|hour|day)`},
		{"API_RATE_LIMIT", "0/minute", `API_RATE_LIMIT: "0/minute" is not a rate`},
		{"DATABASE_URL", "mysql://u@h/db", `DATABASE_URL: "mysql://u@h/db" is not a supported database URL`},
		{"DATABASE_URL", "/var/lib/tldw/users.db", `DATABASE_URL: "REDACTED" is not a supported database URL`},
		{"DATABASE_URL", "sqlite:", `DATABASE_URL: "sqlite:" is not a supported database URL`},
		{"REDIS_URL", "http://cache:6379", `REDIS_URL: "http://cache:6379" is not a Redis URL`},
		{"TRUSTED_PROXIES", "10.0.0.0/33", `TRUSTED_PROXIES: "10.0.0.0/33" is not an IP address or CIDR`},
		{"METRICS_ALLOWED_CIDRS", "10.0.0.0/8,localhost", `METRICS_ALLOWED_CIDRS: "localhost" is not an IP address or CIDR`},
		{"SINGLE_USER_ALLOWED_IPS", "fe80::1%eth0", `SINGLE_USER_ALLOWED_IPS: "fe80::1%eth0" is not an IP address or CIDR`},
		{"LOG_LEVEL", "LOUD", `LOG_LEVEL: "LOUD" is not a log level`},
		{"AUTH_MODE", "both", `AUTH_MODE: "both" is not a mode`},
		{"JWT_ALGORITHM", "none", `JWT_ALGORITHM: "none" is not supported`},
		{"JWT_ALGORITHM", "RS256", `JWT_PRIVATE_KEY and JWT_PUBLIC_KEY are required when JWT_ALGORITHM=RS256`},
		{"DEFAULT_USER_ROLE", "admin", `DEFAULT_USER_ROLE: "admin" is not allowed`},
		{"DEFAULT_STORAGE_QUOTA_MB", "-1", `DEFAULT_STORAGE_QUOTA_MB must be from 0 to`},
		{"LOG_FORMAT", "xml", `LOG_FORMAT: "xml" is not a format`},
		{"AUDIT_LOG_FORMAT", "csv", `AUDIT_LOG_FORMAT: "csv" is not a format`},
		{"SESSION_COOKIE_SAMESITE", "sometimes", `SESSION_COOKIE_SAMESITE: "sometimes" is not allowed`},
		{"SESSION_COOKIE_SAMESITE", "none", `SESSION_COOKIE_SAMESITE=none requires SECURE_COOKIES=true`},
		{"ALLOWED_ORIGINS", "https://ok.example,https://x.example/", `ALLOWED_ORIGINS: "https://x.example/" is not an origin`},
		{"ALLOWED_ORIGINS", "yourdomain.com", `ALLOWED_ORIGINS: "yourdomain.com" is not an origin`},
		{"TRUSTED_HOSTS", "https://yourdomain.com", `TRUSTED_HOSTS: "https://yourdomain.com" is not a host name`},
		{"MEDIA_STORAGE_URL", "ftp://x/y", `MEDIA_STORAGE_URL: "ftp://x/y" is not a storage URL`},
		{"MAX_UPLOAD_SIZE_MB", "0", `MAX_UPLOAD_SIZE_MB must be from 1 to`},
		{"TLDW_ADDR", "8000", `TLDW_ADDR: "8000" is not host:port`},
		{"TLDW_ADDR", "localhost:http", `TLDW_ADDR: "localhost:http" is not host:port`},
		{"DATABASE_POOL_MIN_SIZE", "50", `DATABASE_POOL_MIN_SIZE (50) must not exceed DATABASE_POOL_SIZE (20)`},
		{"PASSWORD_MIN_LENGTH", "6", `PASSWORD_MIN_LENGTH must be from 8 to 128 (got 6)`},
		{"ARGON2_MEMORY_COST", "1024", `ARGON2_MEMORY_COST must be from 8192`},
		{"SESSION_COOKIE_HTTPONLY", "false", `SESSION_COOKIE_HTTPONLY=false is not supported`},
		{"DEFAULT_STORAGE_QUOTA_MB", "9223372036854775807", `DEFAULT_STORAGE_QUOTA_MB must be from 0 to 1073741824`},
		{"DEFAULT_STORAGE_QUOTA_MB", "8796093022208", `DEFAULT_STORAGE_QUOTA_MB must be from 0`},
		{"MAX_UPLOAD_SIZE_MB", "9223372036854775807", `MAX_UPLOAD_SIZE_MB must be from 1 to 1073741824`},
		{"HEALTH_MIN_FREE_DISK_MB", "-5", `HEALTH_MIN_FREE_DISK_MB must be from 0`},
		{"DATABASE_POOL_SIZE", "2147483647", `DATABASE_POOL_SIZE must be from 1 to 10000`},
		{"DATABASE_MAX_OVERFLOW", "-1", `DATABASE_MAX_OVERFLOW must be from 0`},
		{"REDIS_MAX_CONNECTIONS", "0", `REDIS_MAX_CONNECTIONS must be from 1`},
		{"DATABASE_URL", "postgres://u:pw@db:99999/x", `DATABASE_URL: port "99999" is not a number from 1 to 65535`},
		{"REDIS_URL", "redis://cache:0/0", `REDIS_URL: port "0" is not a number from 1 to 65535`},
		{"AUDIT_LOG_RETENTION_DAYS", "1000000", `AUDIT_LOG_RETENTION_DAYS must be from 0 to 36500`},
		{"REGISTRATION_CODE_DEFAULT_EXPIRY_DAYS", "1000000", `REGISTRATION_CODE_DEFAULT_EXPIRY_DAYS must be from 1 to 36500`},
		{"SERVER_MAX_HEADER_BYTES", "2147483647", `SERVER_MAX_HEADER_BYTES must be from 1024`},
		{"ARGON2_MEMORY_COST", "4000000000", `ARGON2_MEMORY_COST must be from 8192 to 4194304`},
		{"PASSWORD_MIN_LENGTH", "5000", `PASSWORD_MIN_LENGTH must be from 8 to 128`},
		{"MEDIA_STORAGE_URL", "ftp://user:s3cret@x/y", `MEDIA_STORAGE_URL: "ftp://user:REDACTED@x/y" must not carry credentials`},
		{"MEDIA_STORAGE_URL", "s3://AKIA:s3cret@bucket/p", `MEDIA_STORAGE_URL: "s3://AKIA:REDACTED@bucket/p" must not carry credentials`},
		{"ALLOWED_ORIGINS", "https://user:s3cret@x.example", `ALLOWED_ORIGINS: "https://user:REDACTED@x.example" is not an origin`},
		{"SHUTDOWN_DELAY_SECONDS", "-1", `SHUTDOWN_DELAY_SECONDS must not be negative`},
		{"METRICS_TOKEN", "short", `METRICS_TOKEN must be at least 16 characters`},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			_, err := FromEnv(env(map[string]string{tt.key: tt.value}))
			if err == nil {
				t.Fatalf("FromEnv(%s=%q) = nil error, want %q", tt.key, tt.value, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("FromEnv(%s=%q) error:\n%v\nwant it to contain %q", tt.key, tt.value, err, tt.want)
			}
		})
	}
}

func TestFromEnvReportsAllProblems(t *testing.T) {
	cfg, err := FromEnv(env(map[string]string{
		"AUTH_RATE_LIMIT":        "5/fortnight",
		"ENABLE_REGISTRATION":    "sure",
		"DATABASE_POOL_SIZE":     "-3",
		"JWT_SECRET_KEY":         "too-short",
		"LOG_LEVEL":              "chatty",
		"ALLOWED_ORIGINS":        "*",
		"CORS_ALLOW_CREDENTIALS": "true",
		"MAX_SESSIONS_PER_USER":  "7", // valid: must still be applied
	}))
	if err == nil {
		t.Fatal("FromEnv returned no error")
	}
	for _, want := range []string{"AUTH_RATE_LIMIT", "ENABLE_REGISTRATION", "DATABASE_POOL_SIZE", "JWT_SECRET_KEY", "LOG_LEVEL", "CORS_ALLOW_CREDENTIALS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 6 {
		t.Errorf("error has %d lines, want 6 (one per problem):\n%v", n, err)
	}
	if cfg.MaxSessionsPerUser != 7 {
		t.Errorf("MaxSessionsPerUser = %d, want the valid value 7 kept", cfg.MaxSessionsPerUser)
	}
}

func TestFromEnvValues(t *testing.T) {
	t.Run("empty and blank values keep the default", func(t *testing.T) {
		cfg, err := FromEnv(env(map[string]string{"TLDW_ADDR": "", "LOG_LEVEL": "   ", "AUTH_RATE_LIMIT": ""}))
		if err != nil || !reflect.DeepEqual(cfg, DefaultConfig()) {
			t.Errorf("FromEnv = %+v, %v; want defaults", cfg, err)
		}
	})
	t.Run("values are trimmed", func(t *testing.T) {
		cfg, err := FromEnv(env(map[string]string{"TLDW_ADDR": "  127.0.0.1:9 ", "AUTH_RATE_LIMIT": " 7/min\t"}))
		if err != nil || cfg.Addr != "127.0.0.1:9" || cfg.AuthRateLimit != (Rate{7, time.Minute}) {
			t.Errorf("Addr=%q AuthRateLimit=%v err=%v", cfg.Addr, cfg.AuthRateLimit, err)
		}
	})
	t.Run("aliases", func(t *testing.T) {
		cfg, err := FromEnv(env(map[string]string{
			"API_KEY":                "alias-api-key-0123456789",
			"DATABASE_POOL_MAX_SIZE": "33",
			"SESSION_COOKIE_SECURE":  "true",
			"JWT_SECONDARY_SECRET":   "secondary-secret-0123456789abcdef0123",
		}))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.SingleUserAPIKey != "alias-api-key-0123456789" || cfg.DatabasePoolSize != 33 || !cfg.SecureCookies ||
			!reflect.DeepEqual(cfg.JWTPreviousSecretKeys, []Secret{"secondary-secret-0123456789abcdef0123"}) {
			t.Errorf("aliases not applied: %q %d %v %d", cfg.SingleUserAPIKey.Reveal(), cfg.DatabasePoolSize, cfg.SecureCookies, len(cfg.JWTPreviousSecretKeys))
		}
	})
	t.Run("same value under key and alias", func(t *testing.T) {
		cfg, err := FromEnv(env(map[string]string{"SECURE_COOKIES": "true", "SESSION_COOKIE_SECURE": "true"}))
		if err != nil || !cfg.SecureCookies {
			t.Errorf("SecureCookies=%v err=%v", cfg.SecureCookies, err)
		}
	})
	t.Run("key and alias disagree", func(t *testing.T) {
		_, err := FromEnv(env(map[string]string{"SINGLE_USER_API_KEY": "first-secret-value-0123456789", "API_KEY": "second-secret-value-0123456789"}))
		if err == nil || !strings.Contains(err.Error(), "SINGLE_USER_API_KEY and API_KEY are both set and differ") {
			t.Fatalf("err = %v", err)
		}
		if strings.Contains(err.Error(), "secret-value") {
			t.Errorf("error reveals a secret: %v", err)
		}
	})
	t.Run("CSP quotes from the guide are stripped", func(t *testing.T) {
		cfg, err := FromEnv(env(map[string]string{"CSP_DIRECTIVES": `"default-src 'self'"`}))
		if err != nil || cfg.CSPDirectives != "default-src 'self'" {
			t.Errorf("CSPDirectives=%q err=%v", cfg.CSPDirectives, err)
		}
	})
	t.Run("log levels", func(t *testing.T) {
		for in, want := range map[string]slog.Level{"debug": slog.LevelDebug, "INFO": slog.LevelInfo, "Warn": slog.LevelWarn,
			"WARNING": slog.LevelWarn, "error": slog.LevelError, "CRITICAL": slog.LevelError} {
			cfg, err := FromEnv(env(map[string]string{"LOG_LEVEL": in}))
			if err != nil || cfg.LogLevel != want {
				t.Errorf("LOG_LEVEL=%s: got %v, %v; want %v", in, cfg.LogLevel, err, want)
			}
		}
	})
	t.Run("the deployment guide's .env", func(t *testing.T) {
		guide := map[string]string{
			"AUTH_MODE": "multi_user", "DATABASE_URL": "postgresql://tldw_user:SecurePassword123!@localhost/tldw_multiuser",
			"REDIS_URL": "redis://:YourRedisPassword123!@localhost:6379/0", "JWT_ALGORITHM": "HS256",
			"ACCESS_TOKEN_EXPIRE_MINUTES": "60", "REFRESH_TOKEN_EXPIRE_DAYS": "30", "ENABLE_REGISTRATION": "false",
			"REQUIRE_REGISTRATION_CODE": "true", "DEFAULT_USER_ROLE": "user", "DEFAULT_STORAGE_QUOTA_MB": "5120",
			"RATE_LIMIT_ENABLED": "true", "AUTH_RATE_LIMIT": "5/minute", "API_RATE_LIMIT": "100/minute",
			"ALLOWED_ORIGINS": "https://yourdomain.com,https://www.yourdomain.com", "CORS_ALLOW_CREDENTIALS": "true",
			"MEDIA_STORAGE_PATH": "/var/lib/tldw/media", "TEMP_PATH": "/var/lib/tldw/temp", "MAX_UPLOAD_SIZE_MB": "500",
			"LOG_LEVEL": "INFO", "LOG_FILE": "/var/log/tldw/app.log", "AUDIT_LOG_FILE": "/var/log/tldw/audit.log",
			"SECURE_COOKIES": "true", "SESSION_COOKIE_HTTPONLY": "true", "SESSION_COOKIE_SAMESITE": "strict",
			"TRUSTED_HOSTS": "yourdomain.com,www.yourdomain.com", "CSP_DIRECTIVES": `"default-src 'self'; script-src 'self' 'unsafe-inline'"`,
			"DATABASE_POOL_SIZE": "20", "DATABASE_MAX_OVERFLOW": "10", "SESSION_CACHE_TTL": "3600",
		}
		cfg, err := FromEnv(env(guide))
		if err != nil {
			t.Fatalf("the guide's settings without its JWT placeholder must load: %v", err)
		}
		if cfg.DatabaseKind() != "postgres" || len(cfg.Warnings()) != 2 {
			t.Errorf("kind %q, warnings %q; want postgres and two sample-password warnings", cfg.DatabaseKind(), cfg.Warnings())
		}
		guide["JWT_SECRET_KEY"] = "generate-a-secure-random-key-here-use-openssl-rand-base64-64"
		if _, err := FromEnv(env(guide)); err == nil || !strings.Contains(err.Error(), "JWT_SECRET_KEY is a placeholder") {
			t.Errorf("the guide's JWT placeholder was accepted: %v", err)
		}
	})
}

func TestJWTSecretValidation(t *testing.T) {
	tests := []struct {
		name, secret string
		want         string // "" = valid
	}{
		{"unset is generated later", "", ""},
		{"32 characters", strings.Repeat("k", 32), ""},
		{"31 characters", strings.Repeat("k", 31), "JWT_SECRET_KEY must be at least 32 characters (got 31)"},
		{"guide placeholder", "generate-a-secure-random-key-here-use-openssl-rand-base64-64", "JWT_SECRET_KEY is a placeholder"},
		{"change me", "CHANGE_ME_this-is-long-enough-to-pass-the-length", "JWT_SECRET_KEY is a placeholder"},
		{"changeme", "xxxxxxxxxxxxxxxxxxxxxxxxxxChangeMe", "JWT_SECRET_KEY is a placeholder"},
		{"your-secret-key", "your-secret-key-0123456789abcdefghijkl", "JWT_SECRET_KEY is a placeholder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			c.JWTSecretKey = Secret(tt.secret)
			checkValidate(t, c, tt.want)
		})
	}
	t.Run("previous keys", func(t *testing.T) {
		c := DefaultConfig()
		c.JWTPreviousSecretKeys = []Secret{Secret(strings.Repeat("a", 40)), "short-old-key"}
		checkValidate(t, c, "JWT_PREVIOUS_SECRET_KEYS[1] must be at least 32 characters (got 13)")
	})
	t.Run("asymmetric with key files", func(t *testing.T) {
		c := DefaultConfig()
		c.JWTAlgorithm, c.JWTPrivateKeyFile, c.JWTPublicKeyFile = "ES256", "k.pem", "k.pub"
		checkValidate(t, c, "")
	})
}

func TestSingleUserValidation(t *testing.T) {
	tests := []struct {
		name, key, addr string
		want            string // "" = valid
	}{
		{"missing key", "", "127.0.0.1:8000", "SINGLE_USER_API_KEY is required when AUTH_MODE=single_user"},
		{"placeholder", "CHANGE_ME_TO_SECURE_API_KEY", "127.0.0.1:8000", "SINGLE_USER_API_KEY is a placeholder"},
		{"15 characters", strings.Repeat("x", 15), "127.0.0.1:8000", "SINGLE_USER_API_KEY must be at least 16 characters (got 15)"},
		{"16 on loopback", strings.Repeat("x", 16), "127.0.0.1:8000", ""},
		{"16 on localhost", strings.Repeat("x", 16), "localhost:8000", ""},
		{"16 on ::1", strings.Repeat("x", 16), "[::1]:8000", ""},
		{"16 on 127.0.0.2", strings.Repeat("x", 16), "127.0.0.2:8000", ""},
		{"23 on all interfaces", strings.Repeat("x", 23), "0.0.0.0:8000", "SINGLE_USER_API_KEY must be at least 24 characters when TLDW_ADDR (0.0.0.0:8000) is not a loopback address"},
		{"20 on empty host", strings.Repeat("x", 20), ":8000", "must be at least 24 characters"},
		{"20 on a LAN address", strings.Repeat("x", 20), "192.168.1.5:8000", "must be at least 24 characters"},
		{"24 on all interfaces", strings.Repeat("x", 24), "0.0.0.0:8000", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			c.AuthMode, c.SingleUserAPIKey, c.Addr = "single_user", Secret(tt.key), tt.addr
			checkValidate(t, c, tt.want)
		})
	}
	t.Run("multi_user ignores the key", func(t *testing.T) {
		c := DefaultConfig()
		c.SingleUserAPIKey = "short"
		checkValidate(t, c, "")
	})
}

func TestCORSValidation(t *testing.T) {
	c := DefaultConfig()
	c.AllowedOrigins, c.CORSAllowCredentials = []string{"*"}, true
	checkValidate(t, c, "ALLOWED_ORIGINS=* cannot be combined with CORS_ALLOW_CREDENTIALS=true")

	c.CORSAllowCredentials = false
	checkValidate(t, c, "")
	if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, `ALLOWED_ORIGINS contains "*"`) {
		t.Errorf("no wildcard warning: %q", w)
	}

	c.AllowedOrigins, c.CORSAllowCredentials = []string{"https://app.example.com", "http://localhost:3000"}, true
	checkValidate(t, c, "")
}

// checkValidate asserts that c.Validate() fails with an error containing want, or passes
// when want is "".
func checkValidate(t *testing.T, c Config, want string) {
	t.Helper()
	err := c.Validate()
	switch {
	case want == "" && err != nil:
		t.Errorf("Validate() = %v, want nil", err)
	case want != "" && err == nil:
		t.Errorf("Validate() = nil, want an error containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("Validate() = %v\nwant it to contain %q", err, want)
	}
}

func TestWarnings(t *testing.T) {
	c := DefaultConfig()
	c.DatabaseURL = "postgresql://tldw_user:SecurePassword123!@localhost/tldw_multiuser"
	c.RedisURL = "redis://:YourRedisPassword123!@localhost:6379/0"
	c.TrustedHosts = []string{"yourdomain.com"}
	c.EnableRegistration, c.RequireRegistrationCode = true, false
	c.RateLimitEnabled = false
	got := strings.Join(c.Warnings(), "\n")
	for _, want := range []string{
		`DATABASE_URL uses the deployment guide's sample password "SecurePassword123!"`,
		`REDIS_URL uses the deployment guide's sample password "YourRedisPassword123!"`,
		"SECURE_COOKIES=false while TRUSTED_HOSTS is set",
		"REQUIRE_REGISTRATION_CODE=false: anyone",
		"RATE_LIMIT_ENABLED=false",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Warnings() lacks %q:\n%s", want, got)
		}
	}
	c.SecureCookies = true
	if strings.Contains(strings.Join(c.Warnings(), "\n"), "SECURE_COOKIES=false") {
		t.Error("cookie warning remains with SECURE_COOKIES=true")
	}
}

func TestParseRate(t *testing.T) {
	tests := []struct {
		in      string
		want    Rate
		wantErr bool
	}{
		{"5/minute", Rate{5, time.Minute}, false},
		{"100/minute", Rate{100, time.Minute}, false},
		{"10/second", Rate{10, time.Second}, false},
		{"1000/hour", Rate{1000, time.Hour}, false},
		{"50/day", Rate{50, 24 * time.Hour}, false},
		{"5/min", Rate{5, time.Minute}, false},
		{"10/s", Rate{10, time.Second}, false},
		{"1000/h", Rate{1000, time.Hour}, false},
		{"3/Days", Rate{3, 24 * time.Hour}, false},
		{" 7 / MINUTE ", Rate{7, time.Minute}, false},
		{"5/fortnight", Rate{}, true},
		{"0/minute", Rate{}, true},
		{"-1/minute", Rate{}, true},
		{"five/minute", Rate{}, true},
		{"5", Rate{}, true},
		{"5/", Rate{}, true},
		{"/minute", Rate{}, true},
		{"", Rate{}, true},
	}
	for _, tt := range tests {
		got, err := ParseRate(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("%q is not a rate", tt.in)) {
			t.Errorf("ParseRate(%q) error %q does not name the value", tt.in, err)
		}
	}
	for _, r := range []Rate{{5, time.Minute}, {10, time.Second}, {1000, time.Hour}, {50, 24 * time.Hour}} {
		back, err := ParseRate(r.String())
		if err != nil || back != r {
			t.Errorf("ParseRate(%q) = %v, %v; want round trip to %v", r.String(), back, err, r)
		}
	}
	if s := (Rate{5, time.Minute}).String(); s != "5/minute" {
		t.Errorf("String() = %q, want 5/minute", s)
	}
}

// TestSecretsNeverPrint prints a config full of secrets every way a program might and checks
// that no secret appears.
func TestSecretsNeverPrint(t *testing.T) {
	cfg := everyKeyConfig()
	secrets := []string{"s3cret-db-pw", "s3cret-redis-pw", "0123456789abcdef0123456789abcdef-jwt", "old-secret-number-one",
		"secondary-secret", "single-user-key", "metrics-token", "Adm1n-P@ssw0rd"}
	var outputs []string
	for _, v := range []any{cfg, &cfg, cfg.JWTSecretKey, cfg.DatabaseURL, cfg.JWTPreviousSecretKeys} {
		for _, verb := range []string{"%v", "%s", "%+v", "%#v", "%q", "%x", "%d", "%10.3s"} {
			outputs = append(outputs, fmt.Sprintf(verb, v))
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%T): %v", v, err)
		}
		outputs = append(outputs, string(b))
	}
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
		slog.New(h).Info("config", "cfg", cfg, "key", cfg.JWTSecretKey, "db", cfg.DatabaseURL, slog.Any("redis", cfg.RedisURL))
	}
	outputs = append(outputs, buf.String())
	for _, e := range cfg.Redacted() {
		outputs = append(outputs, e.Key+"="+e.Value)
	}
	bad := cfg
	bad.JWTSecretKey = Secret("0123456789abcdef0123456789abcdef-jwt"[:20])
	bad.DatabaseURL = "mysql://u:s3cret-db-pw@h/db"
	bad.RedisURL = "http://:s3cret-redis-pw@cache"
	bad.MetricsToken = "metrics-token"
	outputs = append(outputs, fmt.Sprint(bad.Validate()))

	all := strings.Join(outputs, "\n")
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("secret %q printed; output:\n%s", s, all)
		}
	}
	if !strings.Contains(all, "REDACTED") || !strings.Contains(all, "db.internal") {
		t.Errorf("output shows neither REDACTED nor non-secret parts:\n%s", all)
	}
	if got := fmt.Sprintf("%v|%s|%#v", Secret(""), Secret(""), Secret("")); got != `||""` {
		t.Errorf("empty Secret prints %q", got)
	}
	if got := cfg.JWTSecretKey.Reveal(); got != "0123456789abcdef0123456789abcdef-jwt" {
		t.Errorf("Reveal() = %q", got)
	}
}

func TestDSNRedaction(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"postgresql://tldw_user:SecurePassword123!@localhost/tldw_multiuser", "postgresql://tldw_user:REDACTED@localhost/tldw_multiuser"},
		{"postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"},
		{"postgres://u@h/db?sslmode=require&password=hunter2", "postgres://u@h/db?password=REDACTED&sslmode=require"},
		{"redis://:YourRedisPassword123!@localhost:6379/0", "redis://:REDACTED@localhost:6379/0"},
		{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"redis://user:p@ss#word@host:6379", "redis://user:REDACTED@host:6379"},
		{"sqlite:///./Databases/users.db", "sqlite:///./Databases/users.db"},
		{"sqlite::memory:", "sqlite::memory:"},
		{"host=db user=u password=hunter2", "REDACTED"},
	}
	for _, tt := range tests {
		d := DSN(tt.in)
		if got := d.String(); got != tt.want {
			t.Errorf("DSN(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
		if d.Reveal() != tt.in {
			t.Errorf("Reveal() = %q, want %q", d.Reveal(), tt.in)
		}
	}
}

func TestDatabaseAndPaths(t *testing.T) {
	tests := []struct {
		url, kind, resolved, sqlite string
	}{
		{"", "sqlite", "sqlite:data/tldw.db", "data/tldw.db"},
		{"sqlite:/srv/tldw.db", "sqlite", "sqlite:/srv/tldw.db", "/srv/tldw.db"},
		{"sqlite:///./Databases/users.db", "sqlite", "sqlite:///./Databases/users.db", "./Databases/users.db"},
		{"sqlite:////abs/users.db", "sqlite", "sqlite:////abs/users.db", "/abs/users.db"},
		{"sqlite::memory:", "sqlite", "sqlite::memory:", ":memory:"},
		{"postgres://u:p@h/db", "postgres", "postgres://u:p@h/db", ""},
		{"postgresql://u@h/db", "postgres", "postgresql://u@h/db", ""},
		{"sqlite://host/x.db", "", "sqlite://host/x.db", ""},
		{"mysql://h/db", "", "mysql://h/db", ""},
	}
	for _, tt := range tests {
		c := DefaultConfig()
		c.DataDir, c.DatabaseURL = "data", DSN(tt.url)
		if k, r, s := c.DatabaseKind(), c.ResolvedDatabaseURL(), c.SQLitePath(); k != tt.kind || r != tt.resolved || s != tt.sqlite {
			t.Errorf("DATABASE_URL=%q: kind %q, resolved %q, sqlite %q; want %q, %q, %q", tt.url, k, r, s, tt.kind, tt.resolved, tt.sqlite)
		}
	}
	c := DefaultConfig()
	c.DataDir = "/d"
	if c.MediaDir() != "/d/media" || c.TempDir() != "/d/temp" {
		t.Errorf("MediaDir %q TempDir %q", c.MediaDir(), c.TempDir())
	}
	c.MediaStoragePath, c.TempPath = "/m", "/t"
	if c.MediaDir() != "/m" || c.TempDir() != "/t" {
		t.Errorf("MediaDir %q TempDir %q", c.MediaDir(), c.TempDir())
	}
}

// TestRedactedStorageURL: a MEDIA_STORAGE_URL with credentials (rejected by Validate, but
// printed by check-config) shows its password redacted.
func TestRedactedStorageURL(t *testing.T) {
	c := DefaultConfig()
	c.MediaStorageURL = "s3://AKIAEXAMPLE:s3cret-url-pw@tldw-media/prod"
	for _, e := range c.Redacted() {
		if e.Key == "MEDIA_STORAGE_URL" && e.Value != "s3://AKIAEXAMPLE:REDACTED@tldw-media/prod" {
			t.Errorf("Redacted MEDIA_STORAGE_URL = %q", e.Value)
		}
	}
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Validate = %v, want a redacted rejection", err)
	}
}

func TestRedacted(t *testing.T) {
	keys := configKeys()
	entries := everyKeyConfig().Redacted()
	if len(entries) != len(keys) {
		t.Fatalf("Redacted() has %d entries, want %d", len(entries), len(keys))
	}
	got := map[string]string{}
	for i, e := range entries {
		if e.Key != keys[i].Key {
			t.Errorf("entry %d is %s, want %s", i, e.Key, keys[i].Key)
		}
		got[e.Key] = e.Value
	}
	for key, want := range map[string]string{
		"JWT_SECRET_KEY":              "REDACTED",
		"JWT_PREVIOUS_SECRET_KEYS":    "REDACTED,REDACTED,REDACTED",
		"SINGLE_USER_API_KEY":         "REDACTED",
		"METRICS_TOKEN":               "REDACTED",
		"STT_API_KEY":                 "REDACTED",
		"TLDW_ADMIN_PASSWORD":         "REDACTED",
		"DATABASE_URL":                "postgresql://tldw_user:REDACTED@db.internal/tldw_multiuser",
		"REDIS_URL":                   "redis://:REDACTED@cache:6379/1",
		"AUTH_RATE_LIMIT":             "10/second",
		"ACCESS_TOKEN_EXPIRE_MINUTES": "60",
		"REFRESH_TOKEN_EXPIRE_DAYS":   "30",
		"LOG_LEVEL":                   "WARNING",
		"SINGLE_USER_ALLOWED_IPS":     "10.0.0.0/8,192.168.1.7/32,::1/128",
		"ALLOWED_ORIGINS":             "https://yourdomain.com,https://www.yourdomain.com",
	} {
		if got[key] != want {
			t.Errorf("Redacted %s = %q, want %q", key, got[key], want)
		}
	}

	// Without secrets, the printed values read back to the same configuration.
	c := everyKeyConfig()
	c.DatabaseURL, c.RedisURL = "postgres://u@db/tldw", "redis://cache:6379/0"
	c.JWTSecretKey, c.JWTPreviousSecretKeys, c.SingleUserAPIKey, c.MetricsToken, c.AdminPassword, c.AuditHMACKey, c.S3SecretKey, c.APIKeyPepper = "", nil, "", "", "", "", "", ""
	c.STTAPIKey = ""
	c.AuthMode = "multi_user"
	back := map[string]string{}
	for _, e := range c.Redacted() {
		back[e.Key] = e.Value
	}
	got2, err := FromEnv(env(back))
	if err != nil {
		t.Fatalf("FromEnv(Redacted()): %v", err)
	}
	if !reflect.DeepEqual(got2, c) {
		t.Errorf("FromEnv(Redacted()) = %+v\nwant %+v", got2, c)
	}
}

// docTable renders the key table as it appears in Config's doc comment.
func docTable() string {
	def := DefaultConfig()
	var b strings.Builder
	keys := configKeys()
	for i := 0; i < len(keys); {
		group := keys[i].Group
		if i > 0 {
			b.WriteString("//\n")
		}
		b.WriteString("//\t# " + group + "\n")
		var rows bytes.Buffer
		tw := tabwriter.NewWriter(&rows, 0, 0, 2, ' ', 0)
		for ; i < len(keys) && keys[i].Group == group; i++ {
			e := keys[i]
			d := e.format(&def)
			if d == "" {
				d = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Key, e.Field, d, meaning(e))
		}
		tw.Flush()
		for _, line := range strings.SplitAfter(rows.String(), "\n") {
			if line != "" {
				b.WriteString("//\t" + line)
			}
		}
	}
	return b.String()
}

func meaning(e entry) string {
	switch {
	case len(e.Aliases) == 0:
		return e.Meaning
	case e.Merge:
		return e.Meaning + " " + strings.Join(e.Aliases, ", ") + " is appended."
	}
	return e.Meaning + " Alias: " + strings.Join(e.Aliases, ", ") + "."
}

func TestConfigDocTable(t *testing.T) {
	src, err := os.ReadFile("config.go")
	if err != nil {
		t.Fatal(err)
	}
	want := docTable()
	if !strings.Contains(string(src), want) {
		t.Errorf("the table in Config's doc comment is out of date; replace it with:\n%s", want)
	}
	doc, _, _ := strings.Cut(string(src), "\ntype Config struct")
	for _, e := range configKeys() {
		for _, k := range append([]string{e.Key}, e.Aliases...) {
			if !strings.Contains(doc, k) {
				t.Errorf("%s is not in config.go's doc comment", k)
			}
		}
	}
}

// envExample renders .env.example from the key table.
func envExample() string {
	def := DefaultConfig()
	var b strings.Builder
	b.WriteString("# tldw configuration. Copy to .env and edit; real environment variables win over this file.\n")
	b.WriteString("# Every key tldw reads is listed with its default. An empty value means \"unset\" (the default\n")
	b.WriteString("# applies). Secrets are left empty: generate them (tldwd gen-secret) and keep them out of git.\n")
	b.WriteString("# Generated from the key table in config.go; TestEnvExample keeps the two in sync.\n")
	group := ""
	for _, e := range configKeys() {
		if e.Group != group {
			group = e.Group
			b.WriteString("\n# " + group + "\n")
		}
		v := e.format(&def)
		if strings.ContainsAny(v, " #'\"") {
			v = `"` + v + `"`
		}
		fmt.Fprintf(&b, "# %s\n%s=%s\n", meaning(e), e.Key, v)
	}
	return b.String()
}

func TestEnvExample(t *testing.T) {
	got, err := os.ReadFile(".env.example")
	if err != nil {
		t.Fatal(err)
	}
	if want := envExample(); string(got) != want {
		t.Fatalf(".env.example is out of date; replace it with:\n%s", want)
	}
	// Loading the file as the host does gives the defaults.
	vals, err := godotenv.Read(".env.example")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := FromEnv(env(vals))
	if err != nil || !reflect.DeepEqual(cfg, DefaultConfig()) {
		t.Errorf("FromEnv(.env.example) = %+v, %v; want DefaultConfig()", cfg, err)
	}
	for _, e := range configKeys() {
		if _, ok := vals[e.Key]; !ok {
			t.Errorf(".env.example lacks %s", e.Key)
		}
	}
}

func TestValidateJoinsErrors(t *testing.T) {
	c := DefaultConfig()
	c.AuthMode, c.LogFormat, c.MaxUploadSizeMB = "nobody", "yaml", -1
	err := c.Validate()
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 3 {
		t.Fatalf("Validate() = %v, want three joined errors", err)
	}
}
