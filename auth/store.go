package auth

import (
	"context"
	"time"
)

// User is an account. PasswordHash never leaves the auth package's callers: the HTTP layer
// renders its own view without it.
type User struct {
	ID                 int64
	UUID               string
	Username           string // as the user typed it (NFKC); uniqueness is on CanonicalUsername
	Email              string
	PasswordHash       string
	Role               Role
	IsActive           bool
	IsVerified         bool
	MustChangePassword bool
	CreatedAt          time.Time
	UpdatedAt          time.Time
	LastLogin          *time.Time
	CreatedBy          *int64
	StorageQuotaMB     *int64 // nil = unlimited
	StorageUsedBytes   int64  // maintained by the quota ledger (storage issue); read-only here
	AudioTier          string // the user's audio tier (transcription budget); "" = the default tier
}

// UserFilter selects users for ListUsers. Zero fields do not filter.
type UserFilter struct {
	Role     Role
	IsActive *bool
	Search   string // case-insensitive substring of username or email
	Limit    int    // 1..100, default 20
	Offset   int
}

// UserStore keeps accounts. Usernames and emails are unique case-insensitively: stores
// compare CanonicalUsername / CanonicalEmail forms. Implementations are safe for concurrent
// use. Errors: ErrNotFound for a missing user, ErrConflict for a duplicate username or email.
type UserStore interface {
	// CreateUser inserts u and sets its ID, UUID, CreatedAt and UpdatedAt.
	CreateUser(ctx context.Context, u *User) error
	// CreateUserWithCode redeems the registration code and inserts u in one transaction:
	// either both happen or neither. It returns the code as redeemed. A code that is unknown,
	// revoked, expired or used up is ErrInvalid ("invalid registration code").
	CreateUserWithCode(ctx context.Context, u *User, code string, now time.Time) (*RegistrationCode, error)
	UserByID(ctx context.Context, id int64) (*User, error)
	// UserByLogin finds a user by username or email (canonicalised by the caller).
	UserByLogin(ctx context.Context, login string) (*User, error)
	// UpdateUser applies p to user id in one transaction and returns the outcome: only the
	// fields p sets are written, so concurrent patches of different fields never undo each
	// other. A patch that would leave no active admin is ErrLastAdmin, checked atomically
	// with the write across every process sharing the store. p.Revoke's revocations happen
	// in the same transaction. Errors: ErrNotFound, ErrConflict (username or email taken,
	// IfPasswordHash stale), ErrLastAdmin, ErrInvalid.
	UpdateUser(ctx context.Context, id int64, p UserPatch) (*UserChange, error)
	ListUsers(ctx context.Context, f UserFilter) (users []User, total int, err error)
	// CountUsers counts all users; CountActiveAdmins counts active admins.
	CountUsers(ctx context.Context) (int, error)
	CountActiveAdmins(ctx context.Context) (int, error)
	// PasswordHistory returns the user's n most recent previous password hashes, newest first.
	PasswordHistory(ctx context.Context, userID int64, n int) ([]string, error)
	// AddPasswordHistory records hash and keeps only the newest keep entries.
	AddPasswordHistory(ctx context.Context, userID int64, hash string, keep int) error
}

// ErrLastAdmin is UserStore.UpdateUser's refusal to demote or deactivate the last active
// admin.
var ErrLastAdmin = Detailf(ErrConflict, "cannot remove the last active admin")

// UserPatch is a change to one user; nil fields keep their stored value.
type UserPatch struct {
	Username           *string
	Email              *string
	PasswordHash       *string
	Role               *Role
	IsActive           *bool
	IsVerified         *bool
	MustChangePassword *bool
	LastLogin          *time.Time
	StorageQuotaMB     **int64   // set to a nil *int64 for unlimited
	AudioTier          *string   // "" = the default tier; not validated here (Service does)
	UpdatedAt          time.Time // zero leaves it unchanged (e.g. recording a login)
	// IfPasswordHash, when not empty, applies the patch only while the stored hash is still
	// this one (else ErrConflict), so a rehash never undoes a concurrent password change.
	IfPasswordHash string
	// Revoke, when set, revokes the user's sessions (and API keys) with the change.
	Revoke *Revocation
}

// Revocation is what UserPatch.Revoke revokes, at the patch's UpdatedAt.
type Revocation struct {
	Reason        string // sessions' revoke reason
	ExceptSession int64  // a session to keep (0 = none)
	APIKeys       bool   // also revoke every unrevoked API key of the user...
	ExceptAPIKey  int64  // ...but this one (0 = none)
}

// UserChange is the outcome of UserStore.UpdateUser.
type UserChange struct {
	User     *User   // as stored after the change
	Sessions []int64 // IDs of the sessions revoked, ascending
	APIKeys  int     // how many API keys were revoked
}

// Session is one login: a refresh-token family and the access tokens issued from it.
type Session struct {
	ID               int64
	UserID           int64
	TokenHash        string // HashToken of the current access token's jti
	RefreshHash      string // HashToken of the current refresh token
	PrevRefreshHash  string // the refresh token it replaced, for the reuse grace window
	RotatedAt        *time.Time
	IPAddress        string
	UserAgent        string
	CreatedAt        time.Time
	LastActivity     time.Time
	ExpiresAt        time.Time // access expiry
	RefreshExpiresAt time.Time
	RevokedAt        *time.Time
	RevokeReason     string
}

// Live reports whether the session may still be used at now.
func (s *Session) Live(now time.Time) bool {
	return s.RevokedAt == nil && now.Before(s.RefreshExpiresAt)
}

// SessionStore keeps sessions. Safe for concurrent use. ErrNotFound for a missing session.
type SessionStore interface {
	// CreateSession inserts s and sets its ID.
	CreateSession(ctx context.Context, s *Session) error
	SessionByID(ctx context.Context, id int64) (*Session, error)
	// SessionByRefreshHash finds the session whose current or previous refresh hash is h.
	SessionByRefreshHash(ctx context.Context, h string) (*Session, error)
	// RotateRefresh atomically replaces the refresh hash: only when the stored RefreshHash
	// is oldHash and the session is not revoked (else ErrConflict). It sets PrevRefreshHash
	// = oldHash, RotatedAt = now, TokenHash, ExpiresAt, RefreshExpiresAt and LastActivity.
	RotateRefresh(ctx context.Context, id int64, oldHash, newHash, accessHash string, accessExp, refreshExp, now time.Time) error
	// UpdateAccess records a re-issued access token (grace-window refresh) and activity.
	UpdateAccess(ctx context.Context, id int64, accessHash string, accessExp, now time.Time) error
	// TouchSession sets LastActivity.
	TouchSession(ctx context.Context, id int64, now time.Time) error
	// RevokeSession marks one session revoked (no error if already revoked).
	RevokeSession(ctx context.Context, id int64, reason string, now time.Time) error
	// RevokeUserSessions revokes every live session of userID except exceptID (0 = none) and
	// returns the IDs it revoked.
	RevokeUserSessions(ctx context.Context, userID, exceptID int64, reason string, now time.Time) ([]int64, error)
	// ListSessions returns userID's sessions, newest first; liveOnly drops revoked and expired.
	ListSessions(ctx context.Context, userID int64, liveOnly bool, now time.Time) ([]Session, error)
}

// RegistrationCode is an invitation to register.
type RegistrationCode struct {
	ID                 int64
	Code               string
	MaxUses            int
	TimesUsed          int
	ExpiresAt          time.Time
	RoleToGrant        Role
	AllowedEmailDomain string
	IsActive           bool
	CreatedBy          int64
	CreatedAt          time.Time
}

// CodeStore keeps registration codes (redemption is UserStore.CreateUserWithCode).
type CodeStore interface {
	CreateCode(ctx context.Context, c *RegistrationCode) error
	ListCodes(ctx context.Context, includeInactive bool) ([]RegistrationCode, error)
	CodeByID(ctx context.Context, id int64) (*RegistrationCode, error)
	// RevokeCode deactivates a code; ErrNotFound when absent.
	RevokeCode(ctx context.Context, id int64) error
}

// APIKey is a personal API key. The secret itself is never stored: Hash is
// HashAPIKeySecret(pepper, secret) and Prefix is for display.
type APIKey struct {
	ID     int64
	KeyID  string // the 12 hex characters after "tldw_"
	UserID int64
	Name   string
	Prefix string
	Hash   string
	Scopes []Scope
	// RateLimitPerMinute, when above 0, limits this key's requests below its user's
	// API_RATE_LIMIT budget (which every token and key of the user shares).
	RateLimitPerMinute int
	ExpiresAt          *time.Time
	LastUsedAt         *time.Time
	CreatedAt          time.Time
	RevokedAt          *time.Time
}

// APIKeyStore keeps API keys. ErrNotFound for a missing key; lookups by user return only
// that user's keys (another user's key is ErrNotFound).
type APIKeyStore interface {
	CreateAPIKey(ctx context.Context, k *APIKey) error
	APIKeyByKeyID(ctx context.Context, keyID string) (*APIKey, error)
	ListAPIKeys(ctx context.Context, userID int64) ([]APIKey, error)
	// ReplaceAPIKeySecret rotates a key of userID: new KeyID, Prefix and Hash.
	ReplaceAPIKeySecret(ctx context.Context, userID, id int64, keyID, prefix, hash string) error
	RevokeAPIKey(ctx context.Context, userID, id int64, now time.Time) error
	TouchAPIKey(ctx context.Context, id int64, now time.Time) error
}

// LockoutStore counts failed logins per key. The Service's keys are "ip:<bucket>" (a
// client: an IPv4 address, or the /64 of an IPv6 one, see ClientBucket), "user:<canonical>"
// (a username from anywhere) and "user:<canonical>|ip:<bucket>" (a username from one
// client); keys are independent. The SQL implementation serves one replica set through the
// database; a Redis one shares it faster.
type LockoutStore interface {
	// Fail records a failure at now. When the failures within window reach max (≥ 1; with 1
	// this failure locks), the key is locked until now+lockFor, which is returned (zero
	// time while not locked), and counting starts afresh. A failure while the key is locked
	// changes nothing and returns the current lock's end.
	Fail(ctx context.Context, key string, now time.Time, window time.Duration, max int, lockFor time.Duration) (lockedUntil time.Time, err error)
	// LockedUntil returns the lock's end, or the zero time when key is not locked at now.
	LockedUntil(ctx context.Context, key string, now time.Time) (time.Time, error)
	// Reset clears failures and any lock of key alone.
	Reset(ctx context.Context, key string) error
	// ResetTree clears key and every key that starts with key+"|" (an account's username
	// key and its per-client keys: an admin unlock).
	ResetTree(ctx context.Context, key string) error
}

// SettingsStore keeps small runtime settings (the registration toggle) by key.
type SettingsStore interface {
	// Setting returns the value of key, or ok=false when unset.
	Setting(ctx context.Context, key string) (value string, ok bool, err error)
	SetSetting(ctx context.Context, key, value string) error
}
