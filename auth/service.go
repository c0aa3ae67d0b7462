package auth

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/tldw-go/tldw/audit"
)

var errTODO = errors.New("auth: not implemented yet")

// Options configure a Service. Stores and Hasher/Tokens are required; zero durations take the
// documented defaults.
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
	RotateRefresh      bool          // ROTATE_REFRESH_TOKENS
	MaxSessionsPerUser int           // default 20
	MaxLoginAttempts   int           // default 5
	LockoutDuration    time.Duration // default 15m
	LockoutWindow      time.Duration // failures counted within; default = LockoutDuration
	SessionCacheTTL    time.Duration // how long a per-request liveness check may be cached; default 5m

	EnableRegistration      bool   // ENABLE_REGISTRATION (runtime-overridable via Settings)
	RequireRegistrationCode bool   // REQUIRE_REGISTRATION_CODE
	DefaultRole             Role   // DEFAULT_USER_ROLE
	DefaultQuotaMB          *int64 // DEFAULT_STORAGE_QUOTA_MB; nil = unlimited
	CodeDefaultExpiry       time.Duration
	CodeDefaultMaxUses      int
	MaxBatchCodes           int

	SingleUser       bool   // AUTH_MODE=single_user
	SingleUserAPIKey string // SINGLE_USER_API_KEY
	SingleUserID     int64  // SINGLE_USER_FIXED_ID
	APIKeyPepper     []byte // HMAC key for API-key hashes (kept like the JWT key)
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
}

// UserUpdate is an admin's change to an account; nil fields stay as they are.
type UserUpdate struct {
	Email          *string
	Role           *Role
	IsActive       *bool
	IsVerified     *bool
	StorageQuotaMB **int64 // set to a nil *int64 for unlimited
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

// Service is the accounts orchestrator: it authenticates requests and performs every
// account operation, auditing each. Safe for concurrent use.
type Service struct {
	o Options
}

// NewService checks o and returns a Service. ErrInvalid when a required part is missing.
func NewService(o Options) (*Service, error) { return &Service{o: o}, nil }

// Login checks a username-or-email and password and starts a session. Errors:
// ErrUnauthenticated (unknown user or wrong password — indistinguishable), *LockedError,
// ErrInactive, ErrBusy.
func (s *Service) Login(ctx context.Context, login, password string, m Meta) (*TokenPair, error) {
	return nil, errTODO
}

// Refresh rotates a refresh token. Reuse of an already rotated token outside the grace
// window revokes the session (ErrUnauthenticated, audited token_reuse_detected).
func (s *Service) Refresh(ctx context.Context, refreshToken string, m Meta) (*TokenPair, error) {
	return nil, errTODO
}

// Logout revokes the principal's session, or all the user's sessions.
func (s *Service) Logout(ctx context.Context, p *Principal, allDevices bool, m Meta) error {
	return errTODO
}

// Authenticate resolves the credentials of one request. bearer is the Authorization Bearer
// value ("" when absent), apiKey the X-API-KEY value. A valid bearer JWT wins over a stale
// API key. It checks that the session is live and the user active, using a short cache that
// revocations invalidate. ErrUnauthenticated when nothing valid was presented.
func (s *Service) Authenticate(ctx context.Context, bearer, apiKey string, m Meta) (*Principal, error) {
	return nil, errTODO
}

// Register creates an account by self-registration per the registration mode.
func (s *Service) Register(ctx context.Context, r RegisterRequest, m Meta) (*User, error) {
	return nil, errTODO
}

// Me returns the principal's account.
func (s *Service) Me(ctx context.Context, p *Principal) (*User, error) { return nil, errTODO }

// UpdateMe changes the principal's own email.
func (s *Service) UpdateMe(ctx context.Context, p *Principal, email *string, m Meta) (*User, error) {
	return nil, errTODO
}

// ChangePassword checks current, applies policy and history, and revokes the user's other
// sessions.
func (s *Service) ChangePassword(ctx context.Context, p *Principal, current, next string, m Meta) error {
	return errTODO
}

// Sessions lists userID's live sessions (the principal's own, or any for staff with
// sessions.revoke/users.read).
func (s *Service) Sessions(ctx context.Context, p *Principal, userID int64) ([]Session, error) {
	return nil, errTODO
}

// RevokeSession revokes one session of userID.
func (s *Service) RevokeSession(ctx context.Context, p *Principal, userID, sessionID int64, m Meta) error {
	return errTODO
}

// RevokeAllSessions revokes every session of userID, except the caller's own when
// keepCurrent. It returns how many were revoked.
func (s *Service) RevokeAllSessions(ctx context.Context, p *Principal, userID int64, keepCurrent bool, m Meta) (int, error) {
	return 0, errTODO
}

// CreateAPIKey makes a personal API key and returns it with the full secret (shown once).
func (s *Service) CreateAPIKey(ctx context.Context, p *Principal, name string, scopes []Scope, expiresIn time.Duration, m Meta) (*APIKey, string, error) {
	return nil, "", errTODO
}

// ListAPIKeys lists the principal's keys (no secrets).
func (s *Service) ListAPIKeys(ctx context.Context, p *Principal) ([]APIKey, error) {
	return nil, errTODO
}

// RotateAPIKey replaces a key's secret and returns the new full key.
func (s *Service) RotateAPIKey(ctx context.Context, p *Principal, id int64, m Meta) (*APIKey, string, error) {
	return nil, "", errTODO
}

// RevokeAPIKey revokes one of the principal's keys.
func (s *Service) RevokeAPIKey(ctx context.Context, p *Principal, id int64, m Meta) error {
	return errTODO
}

// ListUsers lists users (users.read).
func (s *Service) ListUsers(ctx context.Context, p *Principal, f UserFilter) ([]User, int, error) {
	return nil, 0, errTODO
}

// User returns one user (users.read, or the principal itself).
func (s *Service) User(ctx context.Context, p *Principal, id int64) (*User, error) {
	return nil, errTODO
}

// CreateUser creates an account (users.write).
func (s *Service) CreateUser(ctx context.Context, p *Principal, n NewUser, m Meta) (*User, error) {
	return nil, errTODO
}

// UpdateUser applies an admin's change. Role changes need users.roles; deactivation
// users.deactivate; moderators never touch admins; the last active admin cannot be demoted
// or deactivated (ErrConflict). Deactivation and role changes take effect on the next
// request.
func (s *Service) UpdateUser(ctx context.Context, p *Principal, id int64, u UserUpdate, m Meta) (*User, error) {
	return nil, errTODO
}

// ResetPassword sets a user's password (users.write), marks it must-change and revokes
// their sessions.
func (s *Service) ResetPassword(ctx context.Context, p *Principal, id int64, password string, m Meta) error {
	return errTODO
}

// Unlock clears lockout for a user (users.deactivate).
func (s *Service) Unlock(ctx context.Context, p *Principal, id int64, m Meta) error {
	return errTODO
}

// CreateCodes makes registration codes (codes.write; only admins may grant admin or
// moderator roles).
func (s *Service) CreateCodes(ctx context.Context, p *Principal, r CodeRequest, m Meta) ([]RegistrationCode, error) {
	return nil, errTODO
}

// ListCodes lists registration codes (codes.read).
func (s *Service) ListCodes(ctx context.Context, p *Principal, includeInactive bool) ([]RegistrationCode, error) {
	return nil, errTODO
}

// RevokeCode deactivates a registration code (codes.write).
func (s *Service) RevokeCode(ctx context.Context, p *Principal, id int64, m Meta) error {
	return errTODO
}

// Registration returns the effective registration settings.
func (s *Service) Registration(ctx context.Context) (RegistrationSettings, error) {
	return RegistrationSettings{}, errTODO
}

// SetRegistration changes the registration settings at run time (settings.write).
func (s *Service) SetRegistration(ctx context.Context, p *Principal, r RegistrationSettings, m Meta) error {
	return errTODO
}

// Stats summarises accounts (stats.read).
func (s *Service) Stats(ctx context.Context, p *Principal) (Stats, error) { return Stats{}, errTODO }

// Bootstrap creates the first admin when there are no users. An empty password generates
// one, returned so the host can print it once. created=false when users already exist.
func (s *Service) Bootstrap(ctx context.Context, username, email, password string) (created bool, generated string, err error) {
	return false, "", errTODO
}

// SystemPrincipal is the command line's principal: an admin acting without a session.
func SystemPrincipal() *Principal {
	return &Principal{Username: "system", Role: RoleAdmin, Via: "cli"}
}

// MayAccessPath reports whether p may read the per-user media path uri (nginx auth_request).
func (s *Service) MayAccessPath(p *Principal, uri string) error { return errTODO }
