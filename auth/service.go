package auth

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/tldw-go/tldw/audit"
)

// Options configure a Service. Stores and Hasher/Tokens are required; zero durations and
// counts take the documented defaults. Options are copied by NewService and not changed
// afterwards.
type Options struct {
	Users    UserStore
	Sessions SessionStore
	Codes    CodeStore
	APIKeys  APIKeyStore
	Lockout  LockoutStore
	Settings SettingsStore
	Audit    audit.Sink // nil = audit.Discard
	Hasher   *Hasher
	Tokens   *Tokens
	Policy   Policy
	Logger   *slog.Logger
	Now      func() time.Time

	AccessTTL          time.Duration // ACCESS_TOKEN_EXPIRE_MINUTES, default 30m
	RefreshTTL         time.Duration // REFRESH_TOKEN_EXPIRE_DAYS, default 7d
	RefreshGrace       time.Duration // reuse grace window, default 10s
	RotateRefresh      bool          // ROTATE_REFRESH_TOKENS; false keeps one refresh token per session (tldw.Config defaults to true)
	MaxSessionsPerUser int           // default 20
	MaxAPIKeysPerUser  int           // live API keys per user (MAX_API_KEYS_PER_USER), default 20
	MaxLoginAttempts   int           // default 5
	LockoutDuration    time.Duration // default 15m
	LockoutWindow      time.Duration // failures counted within; default = LockoutDuration
	SessionCacheTTL    time.Duration // how long a per-request liveness check may be cached; default 5m

	EnableRegistration      bool   // ENABLE_REGISTRATION (runtime-overridable via Settings)
	RequireRegistrationCode bool   // REQUIRE_REGISTRATION_CODE
	DefaultRole             Role   // DEFAULT_USER_ROLE
	DefaultQuotaMB          *int64 // DEFAULT_STORAGE_QUOTA_MB; nil = unlimited
	// AudioTiers are the audio tier names an admin may give a user (the keys of
	// AUDIO_TIER_LIMITS_JSON's tiers, media.ParseAudioTiers); nil means DefaultAudioTiers.
	AudioTiers         []string
	CodeDefaultExpiry  time.Duration
	CodeDefaultMaxUses int
	MaxBatchCodes      int

	SingleUser       bool   // AUTH_MODE=single_user
	SingleUserAPIKey string // SINGLE_USER_API_KEY
	SingleUserID     int64  // SINGLE_USER_FIXED_ID
	// SingleUserIPs (SINGLE_USER_ALLOWED_IPS) are the client addresses (Meta.IP) single-user
	// mode accepts; empty = any. Others get ErrClientNotAllowed.
	SingleUserIPs []netip.Prefix
	APIKeyPepper  []byte // HMAC key for API-key hashes (kept like the JWT key)

	// RefreshSecret keys the HMAC that derives a session's successor refresh token from
	// the presented one, so a replay inside the grace window gets the identical token back
	// on every replica. It must be secret and the same on all replicas: nil uses
	// APIKeyPepper; when both are empty a random per-process key is used (grace replays
	// then only work on the replica that rotated).
	RefreshSecret []byte

	// Notify, when set, is called after the Service drops cached authentication state on
	// its own account (logout, revocation, password change or reset, deactivation, role
	// change) with the sessions concerned and, for a change to a whole user, the user id
	// (else 0). A scale-out layer publishes it so the other replicas drop the same entries
	// (InvalidateSession, InvalidateUser). It runs synchronously on the request's goroutine
	// and may be called concurrently, so it must be quick and safe for concurrent use.
	Notify func(sessionIDs []int64, userID int64)
}

// Meta is what the HTTP layer knows about a request, for audit events and sessions.
type Meta struct {
	IP, UserAgent, RequestID, Method, Path string
}

// Principal is an authenticated caller.
type Principal struct {
	UserID    int64
	Username  string
	Role      Role
	SessionID int64   // 0 for API keys and single-user mode
	APIKeyID  int64   // 0 unless authenticated by a personal API key
	Scopes    []Scope // nil = all the role allows (JWT sessions)
	Via       string  // "jwt", "api_key" or "single_user"
	// KeyRateLimit is the API key's own requests per minute (APIKey.RateLimitPerMinute), 0
	// for none.
	KeyRateLimit int
	// MustChangePassword is set until the user changes a password an admin set: the HTTP
	// gate then allows only changing it, reading the own account, refreshing and logging out.
	MustChangePassword bool
}

// Can reports whether the principal holds p: its role must grant p, and an API key's scopes
// must allow it.
func (p *Principal) Can(perm Permission) bool {
	if p == nil || !p.Role.Can(perm) {
		return false
	}
	return p.Scopes == nil || ScopeAllows(p.Scopes, perm)
}

// TokenPair is the tldw token object returned by login and refresh.
type TokenPair struct {
	AccessToken  string
	RefreshToken string
	TokenType    string // "bearer"
	ExpiresIn    int    // seconds
	SessionID    int64
	User         *User
}

// LockedError is ErrLocked with the time the lock ends (for Retry-After).
type LockedError struct{ Until time.Time }

func (e *LockedError) Error() string        { return "auth: too many failed login attempts" }
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// RegisterRequest is a self-registration.
type RegisterRequest struct {
	Username, Email, Password string
	Code                      string // registration code, "" when none
}

// NewUser is an account created by an admin or the CLI.
type NewUser struct {
	Username, Email, Password string
	Role                      Role
	IsVerified                bool
	MustChangePassword        bool
	StorageQuotaMB            *int64
	AudioTier                 string // "" = the default tier; else one of Options.AudioTiers
}

// UserUpdate is an admin's change to an account; nil fields stay as they are.
type UserUpdate struct {
	Email          *string
	Role           *Role
	IsActive       *bool
	IsVerified     *bool
	StorageQuotaMB **int64 // set to a nil *int64 for unlimited
	AudioTier      *string // "" = back to the default tier; else one of Options.AudioTiers
	Reason         string  // audited when given
}

// CodeRequest asks for registration codes.
type CodeRequest struct {
	MaxUses            int           // 0 → CodeDefaultMaxUses
	Expiry             time.Duration // 0 → CodeDefaultExpiry
	RoleToGrant        Role          // "" → DefaultRole
	AllowedEmailDomain string
	Count              int // 0 → 1; at most MaxBatchCodes
}

// RegistrationSettings is the runtime registration toggle.
type RegistrationSettings struct {
	EnableRegistration      bool
	RequireRegistrationCode bool
}

// Stats summarises accounts for GET /admin/stats.
type Stats struct {
	TotalUsers, ActiveUsers, Admins, Moderators, LiveSessions, ActiveCodes int
}

// Setting keys the Service reads from and writes to the SettingsStore.
const (
	SettingEnableRegistration      = "enable_registration"       // "true" or "false"
	SettingRequireRegistrationCode = "require_registration_code" // "true" or "false"
)

// Defaults applied by NewService to zero Options fields.
const (
	DefaultAccessTTL          = 30 * time.Minute
	DefaultRefreshTTL         = 7 * 24 * time.Hour
	DefaultRefreshGrace       = 10 * time.Second
	DefaultMaxSessionsPerUser = 20
	DefaultMaxAPIKeysPerUser  = 20
	DefaultMaxLoginAttempts   = 5
	DefaultLockoutDuration    = 15 * time.Minute
	DefaultSessionCacheTTL    = 5 * time.Minute
	DefaultCodeExpiry         = 7 * 24 * time.Hour
	DefaultCodeMaxUses        = 1
	DefaultMaxBatchCodes      = 100
	DefaultAPIKeyExpiry       = 365 * 24 * time.Hour
)

// touchEvery throttles last-activity writes for sessions and last-use writes for API keys.
const touchEvery = time.Minute

// Service is the accounts orchestrator: it authenticates requests and performs every
// account operation, auditing each. Safe for concurrent use.
type Service struct {
	o          Options
	log        *slog.Logger
	refreshKey []byte
	cache      *liveness
	verified   *verifiedTokens
	// keyMu serialises the API-key cap check with the insert it guards (see CreateAPIKey).
	keyMu sync.Mutex
}

// NewService checks o, fills defaults and returns a Service. ErrInvalid when a required part
// is missing or a value is out of range (listing every problem); an error from the random
// source when a refresh key must be generated.
func NewService(o Options) (*Service, error) {
	var problems []string
	need := func(ok bool, name string) {
		if !ok {
			problems = append(problems, name+" is required")
		}
	}
	need(o.Users != nil, "Users")
	need(o.Sessions != nil, "Sessions")
	need(o.Codes != nil, "Codes")
	need(o.APIKeys != nil, "APIKeys")
	need(o.Lockout != nil, "Lockout")
	need(o.Settings != nil, "Settings")
	need(o.Hasher != nil, "Hasher")
	need(o.Tokens != nil, "Tokens")
	if o.SingleUser && len(o.SingleUserAPIKey) < 16 {
		problems = append(problems, "SingleUserAPIKey must be at least 16 characters in single-user mode")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"AccessTTL", o.AccessTTL}, {"RefreshTTL", o.RefreshTTL}, {"RefreshGrace", o.RefreshGrace},
		{"LockoutDuration", o.LockoutDuration}, {"LockoutWindow", o.LockoutWindow},
		{"SessionCacheTTL", o.SessionCacheTTL}, {"CodeDefaultExpiry", o.CodeDefaultExpiry},
	} {
		if d.v < 0 {
			problems = append(problems, d.name+" must not be negative")
		}
	}
	if o.MaxSessionsPerUser < 0 || o.MaxAPIKeysPerUser < 0 || o.MaxLoginAttempts < 0 || o.CodeDefaultMaxUses < 0 || o.MaxBatchCodes < 0 {
		problems = append(problems, "counts must not be negative")
	}
	if o.DefaultQuotaMB != nil && *o.DefaultQuotaMB < 0 {
		problems = append(problems, "DefaultQuotaMB must not be negative")
	}
	for _, name := range o.AudioTiers {
		if name == "" {
			problems = append(problems, "AudioTiers must not contain an empty name")
			break
		}
	}
	if o.DefaultRole != "" {
		if _, err := ParseRole(string(o.DefaultRole)); err != nil {
			problems = append(problems, "DefaultRole: "+err.Error())
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: auth service: %s", ErrInvalid, strings.Join(problems, "; "))
	}

	if o.Audit == nil {
		o.Audit = audit.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	setDur := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	setDur(&o.AccessTTL, DefaultAccessTTL)
	setDur(&o.RefreshTTL, DefaultRefreshTTL)
	setDur(&o.RefreshGrace, DefaultRefreshGrace)
	setDur(&o.LockoutDuration, DefaultLockoutDuration)
	setDur(&o.LockoutWindow, o.LockoutDuration)
	setDur(&o.SessionCacheTTL, DefaultSessionCacheTTL)
	setDur(&o.CodeDefaultExpiry, DefaultCodeExpiry)
	setInt := func(n *int, def int) {
		if *n == 0 {
			*n = def
		}
	}
	setInt(&o.MaxSessionsPerUser, DefaultMaxSessionsPerUser)
	setInt(&o.MaxAPIKeysPerUser, DefaultMaxAPIKeysPerUser)
	setInt(&o.MaxLoginAttempts, DefaultMaxLoginAttempts)
	setInt(&o.CodeDefaultMaxUses, DefaultCodeMaxUses)
	setInt(&o.MaxBatchCodes, DefaultMaxBatchCodes)
	if o.DefaultRole == "" {
		o.DefaultRole = RoleUser
	}
	if o.SingleUserID == 0 {
		o.SingleUserID = 1
	}

	s := &Service{o: o, log: o.Logger, cache: newLiveness(o.SessionCacheTTL), verified: newVerifiedTokens(o.AccessTTL)}
	switch {
	case len(o.RefreshSecret) > 0:
		s.refreshKey = append([]byte(nil), o.RefreshSecret...)
	case len(o.APIKeyPepper) > 0:
		s.refreshKey = append([]byte(nil), o.APIKeyPepper...)
	default:
		s.refreshKey = make([]byte, 32)
		if _, err := rand.Read(s.refreshKey); err != nil {
			return nil, fmt.Errorf("auth: reading random bytes: %w", err)
		}
		if !o.SingleUser {
			s.log.Warn("auth: no RefreshSecret or APIKeyPepper; refresh grace replays work only on this replica")
		}
	}
	return s, nil
}

// SystemPrincipal is the command line's principal: an admin acting without a session.
func SystemPrincipal() *Principal {
	return &Principal{Username: "system", Role: RoleAdmin, Via: "cli"}
}

// now returns the service clock's current time in UTC.
func (s *Service) now() time.Time { return s.o.Now().UTC() }

// audit writes e with the request metadata of m. A failing sink is logged, never returned:
// the action itself already happened. The write is detached from ctx's cancellation so a
// finished request still gets audited.
func (s *Service) audit(ctx context.Context, m Meta, e audit.Event) {
	e.Time = s.now()
	e.IP, e.UserAgent, e.RequestID, e.Method, e.Path = m.IP, m.UserAgent, m.RequestID, m.Method, m.Path
	if err := s.o.Audit.Write(context.WithoutCancel(ctx), e); err != nil {
		s.log.ErrorContext(ctx, "auth: audit write failed", slog.String("action", e.Action), slog.Any("error", err))
	}
}

// actor fills the acting principal into an audit event.
func actor(p *Principal, e audit.Event) audit.Event {
	if p != nil {
		e.UserID, e.Username = p.UserID, p.Username
	}
	return e
}

// require returns ErrUnauthenticated for a nil principal and ErrForbidden when p lacks perm.
func require(p *Principal, perm Permission) error {
	if p == nil {
		return fmt.Errorf("%w: not authenticated", ErrUnauthenticated)
	}
	if !p.Can(perm) {
		return Detailf(ErrForbidden, "%s required", perm)
	}
	return nil
}

// requireOn is require plus CanActOn for a staff permission applied to target's account.
func requireOn(p *Principal, target *User, perm Permission) error {
	if err := require(p, perm); err != nil {
		return err
	}
	if !CanActOn(p.Role, target.Role, perm) {
		return Detailf(ErrForbidden, "a %s may not do this to a %s account", p.Role, target.Role)
	}
	return nil
}

// public returns a copy of u without its password hash.
func public(u *User) *User {
	if u == nil {
		return nil
	}
	c := *u
	c.PasswordHash = ""
	return &c
}

// historyKeep is how many password hashes are remembered (0 = history disabled).
func (s *Service) historyKeep() int {
	switch n := s.o.Policy.HistoryCount; {
	case n == 0:
		return 5
	case n < 0:
		return 0
	default:
		return n
	}
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// idString formats an id for audit targets.
func idString(id int64) string { return fmt.Sprint(id) }

// JWKS returns the JSON Web Key Set of the token verification keys, for
// /.well-known/jwks.json; false with HS256, whose key is secret.
func (s *Service) JWKS() ([]byte, bool) { return s.o.Tokens.JWKS() }
