package authtest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tldw-go/tldw/auth"
)

// Interface guards.
var (
	_ auth.UserStore          = (*MemUsers)(nil)
	_ auth.SessionStore       = (*MemSessions)(nil)
	_ auth.LiveSessionCounter = (*MemSessions)(nil)
	_ auth.CodeStore          = (*MemCodes)(nil)
	_ auth.APIKeyStore        = (*MemAPIKeys)(nil)
	_ auth.LockoutStore       = (*MemLockout)(nil)
	_ auth.SettingsStore      = (*MemSettings)(nil)
)

// MemoryStores bundles one in-memory implementation of each auth store. Users redeems
// registration codes from Codes.
type MemoryStores struct {
	Users    *MemUsers
	Sessions *MemSessions
	Codes    *MemCodes
	APIKeys  *MemAPIKeys
	Lockout  *MemLockout
	Settings *MemSettings
}

// NewMemory returns empty in-memory stores, wired so that Users.CreateUserWithCode redeems
// codes kept by Codes.
func NewMemory() *MemoryStores {
	codes, sessions, keys := &MemCodes{}, &MemSessions{}, &MemAPIKeys{}
	return &MemoryStores{
		Users:    &MemUsers{Codes: codes, Sessions: sessions, APIKeys: keys},
		Sessions: sessions,
		Codes:    codes,
		APIKeys:  keys,
		Lockout:  &MemLockout{},
		Settings: &MemSettings{},
	}
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// ---------------------------------------------------------------------------------------
// Users

// MemUsers is an in-memory auth.UserStore. Usernames and emails are unique by their
// canonical forms (auth.CanonicalUsername / auth.CanonicalEmail; a value those reject is
// compared trimmed and lower-cased). The zero value is ready to use; safe for concurrent use.
type MemUsers struct {
	// Codes is where CreateUserWithCode redeems codes; nil means no code is valid.
	Codes *MemCodes
	// Sessions and APIKeys are where UpdateUser's UserPatch.Revoke revokes; nil = nowhere.
	Sessions *MemSessions
	APIKeys  *MemAPIKeys
	// Now stamps CreatedAt and UpdatedAt when the caller left them zero; nil = time.Now.
	Now func() time.Time

	mu      sync.Mutex
	nextID  int64
	users   map[int64]*memUser
	history map[int64][]string // newest first
}

type memUser struct {
	u      auth.User
	cuser  string // canonical username
	cemail string // canonical email
}

func (m *MemUsers) init() {
	if m.users == nil {
		m.users = make(map[int64]*memUser)
		m.history = make(map[int64][]string)
	}
}

func (m *MemUsers) now() time.Time {
	if m.Now != nil {
		return m.Now().UTC()
	}
	return time.Now().UTC()
}

func cloneUser(u *auth.User) *auth.User {
	c := *u
	c.LastLogin = clonePtr(u.LastLogin)
	c.CreatedBy = clonePtr(u.CreatedBy)
	c.StorageQuotaMB = clonePtr(u.StorageQuotaMB)
	return &c
}

// canonicalOr returns f(s), or s trimmed and lower-cased when f rejects it.
func canonicalOr(f func(string) (string, error), s string) string {
	if c, err := f(s); err == nil {
		return c
	}
	return strings.ToLower(strings.TrimSpace(s))
}

// keys validates u's identifiers and returns their canonical forms, or ErrConflict when
// another user (not exceptID) has one of them. Call with m.mu held.
func (m *MemUsers) keys(u *auth.User, exceptID int64) (cuser, cemail string, err error) {
	if strings.TrimSpace(u.Username) == "" || strings.TrimSpace(u.Email) == "" {
		return "", "", fmt.Errorf("%w: username and email are required", auth.ErrInvalid)
	}
	cuser = canonicalOr(auth.CanonicalUsername, u.Username)
	cemail = canonicalOr(auth.CanonicalEmail, u.Email)
	for id, o := range m.users {
		if id == exceptID {
			continue
		}
		if o.cuser == cuser {
			return "", "", fmt.Errorf("%w: username already exists", auth.ErrConflict)
		}
		if o.cemail == cemail {
			return "", "", fmt.Errorf("%w: email already exists", auth.ErrConflict)
		}
	}
	return cuser, cemail, nil
}

// insert stores u, setting ID, UUID (unless set), CreatedAt and UpdatedAt (unless set).
// Call with m.mu held.
func (m *MemUsers) insert(u *auth.User) error {
	m.init()
	cu, ce, err := m.keys(u, 0)
	if err != nil {
		return err
	}
	m.nextID++
	u.ID = m.nextID
	if u.UUID == "" {
		u.UUID = uuid.NewString()
	}
	now := m.now()
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now
	}
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = u.CreatedAt
	}
	m.users[u.ID] = &memUser{u: *cloneUser(u), cuser: cu, cemail: ce}
	return nil
}

// CreateUser inserts u and sets its ID, UUID, CreatedAt and UpdatedAt (a UUID or timestamps
// the caller already set are kept, as an importer needs). ErrConflict for a taken username
// or email, ErrInvalid for an empty one.
func (m *MemUsers) CreateUser(ctx context.Context, u *auth.User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.insert(u)
}

// CreateUserWithCode redeems code and inserts u atomically: an unknown, revoked, expired or
// used-up code, or one whose AllowedEmailDomain is not exactly (case-insensitively) the
// domain of u.Email, is ErrInvalid and a duplicate user ErrConflict, and in both cases
// nothing changes. It returns the code as redeemed (TimesUsed incremented).
func (m *MemUsers) CreateUserWithCode(ctx context.Context, u *auth.User, code string, now time.Time) (*auth.RegistrationCode, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Codes == nil {
		return nil, fmt.Errorf("%w: invalid registration code", auth.ErrInvalid)
	}
	m.Codes.mu.Lock() // lock order: users, then codes
	defer m.Codes.mu.Unlock()
	c := m.Codes.byCode(code)
	if c == nil || !c.IsActive || !now.Before(c.ExpiresAt) || c.TimesUsed >= c.MaxUses || !inDomain(u.Email, c.AllowedEmailDomain) {
		return nil, fmt.Errorf("%w: invalid registration code", auth.ErrInvalid)
	}
	if err := m.insert(u); err != nil {
		return nil, err
	}
	c.TimesUsed++
	out := *c
	return &out, nil
}

// inDomain reports whether email's domain is domain ("" allows every domain). Subdomains do
// not match.
func inDomain(email, domain string) bool {
	d := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(domain), "@"))
	if d == "" {
		return true
	}
	e := canonicalOr(auth.CanonicalEmail, email)
	at := strings.LastIndexByte(e, '@')
	return at >= 0 && e[at+1:] == d
}

// UserByID returns a copy of the user, or ErrNotFound.
func (m *MemUsers) UserByID(ctx context.Context, id int64) (*auth.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if mu, ok := m.users[id]; ok {
		return cloneUser(&mu.u), nil
	}
	return nil, fmt.Errorf("%w: user %d", auth.ErrNotFound, id)
}

// UserByLogin finds a user whose canonical username or canonical email equals login
// (canonicalised again here, so a non-canonical login matches too), or ErrNotFound.
func (m *MemUsers) UserByLogin(ctx context.Context, login string) (*auth.User, error) {
	c := canonicalOr(auth.CanonicalUsername, login)
	if strings.Contains(login, "@") {
		c = canonicalOr(auth.CanonicalEmail, login)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, mu := range m.users {
		if c != "" && (mu.cuser == c || mu.cemail == c) {
			return cloneUser(&mu.u), nil
		}
	}
	return nil, fmt.Errorf("%w: user", auth.ErrNotFound)
}

// UpdateUser applies p to user id (a zero UpdatedAt leaves it) and, with
// p.Revoke, revokes the user's sessions in Sessions and keys in APIKeys (each when not nil),
// all under one lock. ErrNotFound, ErrConflict, ErrLastAdmin.
func (m *MemUsers) UpdateUser(ctx context.Context, id int64, p auth.UserPatch) (*auth.UserChange, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.users[id]
	if !ok {
		return nil, fmt.Errorf("%w: user %d", auth.ErrNotFound, id)
	}
	if p.IfPasswordHash != "" && old.u.PasswordHash != p.IfPasswordHash {
		return nil, fmt.Errorf("%w: password changed concurrently", auth.ErrConflict)
	}
	n := *cloneUser(&old.u)
	set(&n.Username, p.Username)
	set(&n.Email, p.Email)
	set(&n.PasswordHash, p.PasswordHash)
	set(&n.Role, p.Role)
	set(&n.IsActive, p.IsActive)
	set(&n.IsVerified, p.IsVerified)
	set(&n.MustChangePassword, p.MustChangePassword)
	set(&n.AudioTier, p.AudioTier)
	if p.LastLogin != nil {
		n.LastLogin = clonePtr(p.LastLogin)
	}
	if p.StorageQuotaMB != nil {
		n.StorageQuotaMB = clonePtr(*p.StorageQuotaMB)
	}
	if !p.UpdatedAt.IsZero() {
		n.UpdatedAt = p.UpdatedAt.UTC()
	}
	cu, ce, err := m.keys(&n, id)
	if err != nil {
		return nil, err
	}
	if activeAdmin(&old.u) && !activeAdmin(&n) && m.countActiveAdmins() <= 1 {
		return nil, auth.ErrLastAdmin
	}
	m.users[id] = &memUser{u: n, cuser: cu, cemail: ce}
	out := &auth.UserChange{User: cloneUser(&n)}
	if r := p.Revoke; r != nil {
		if m.Sessions != nil {
			out.Sessions, _ = m.Sessions.RevokeUserSessions(ctx, id, r.ExceptSession, r.Reason, m.revokeTime(p))
		}
		if r.APIKeys && m.APIKeys != nil {
			out.APIKeys = m.APIKeys.revokeUser(id, r.ExceptAPIKey, m.revokeTime(p))
		}
	}
	return out, nil
}

// revokeTime is when p's revocations happen: its UpdatedAt, else now.
func (m *MemUsers) revokeTime(p auth.UserPatch) time.Time {
	if p.UpdatedAt.IsZero() {
		return m.now()
	}
	return p.UpdatedAt.UTC()
}

// set stores *v in dst when v is not nil.
func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func activeAdmin(u *auth.User) bool { return u.Role == auth.RoleAdmin && u.IsActive }

// ListUsers returns the users matching f in ID order, paged by Limit (1..100, default 20)
// and Offset, and the number matching before paging.
func (m *MemUsers) ListUsers(ctx context.Context, f auth.UserFilter) ([]auth.User, int, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, 100)
	search := strings.ToLower(f.Search)
	m.mu.Lock()
	defer m.mu.Unlock()
	var match []auth.User
	for _, mu := range m.users {
		u := mu.u
		if f.Role != "" && u.Role != f.Role || f.IsActive != nil && u.IsActive != *f.IsActive {
			continue
		}
		if search != "" && !strings.Contains(strings.ToLower(u.Username), search) && !strings.Contains(strings.ToLower(u.Email), search) {
			continue
		}
		match = append(match, *cloneUser(&u))
	}
	slices.SortFunc(match, func(a, b auth.User) int { return cmp.Compare(a.ID, b.ID) })
	total := len(match)
	off := min(max(f.Offset, 0), total)
	return match[off:min(off+limit, total)], total, nil
}

// CountUsers counts all users.
func (m *MemUsers) CountUsers(ctx context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.users), nil
}

// CountActiveAdmins counts active users with role admin.
func (m *MemUsers) CountActiveAdmins(ctx context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.countActiveAdmins(), nil
}

// countActiveAdmins counts active admins; call with m.mu held.
func (m *MemUsers) countActiveAdmins() int {
	n := 0
	for _, mu := range m.users {
		if activeAdmin(&mu.u) {
			n++
		}
	}
	return n
}

// PasswordHistory returns up to n of the user's previous hashes, newest first.
func (m *MemUsers) PasswordHistory(ctx context.Context, userID int64, n int) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.history[userID]
	return slices.Clone(h[:min(max(n, 0), len(h))]), nil
}

// AddPasswordHistory records hash as the newest entry and keeps only the newest keep.
// ErrNotFound for an unknown user.
func (m *MemUsers) AddPasswordHistory(ctx context.Context, userID int64, hash string, keep int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[userID]; !ok {
		return fmt.Errorf("%w: user %d", auth.ErrNotFound, userID)
	}
	h := append([]string{hash}, m.history[userID]...)
	m.history[userID] = h[:min(max(keep, 0), len(h))]
	return nil
}

// ---------------------------------------------------------------------------------------
// Sessions

// MemSessions is an in-memory auth.SessionStore (and auth.LiveSessionCounter). The zero
// value is ready to use; safe for concurrent use.
type MemSessions struct {
	mu     sync.Mutex
	nextID int64
	m      map[int64]*auth.Session
}

func cloneSession(s *auth.Session) *auth.Session {
	c := *s
	c.RotatedAt = clonePtr(s.RotatedAt)
	c.RevokedAt = clonePtr(s.RevokedAt)
	return &c
}

func (m *MemSessions) get(id int64) (*auth.Session, error) {
	s, ok := m.m[id]
	if !ok {
		return nil, fmt.Errorf("%w: session %d", auth.ErrNotFound, id)
	}
	return s, nil
}

// CreateSession inserts s and sets its ID.
func (m *MemSessions) CreateSession(ctx context.Context, s *auth.Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = make(map[int64]*auth.Session)
	}
	m.nextID++
	s.ID = m.nextID
	m.m[s.ID] = cloneSession(s)
	return nil
}

// SessionByID returns a copy of the session, or ErrNotFound.
func (m *MemSessions) SessionByID(ctx context.Context, id int64) (*auth.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.get(id)
	if err != nil {
		return nil, err
	}
	return cloneSession(s), nil
}

// SessionByRefreshHash finds the session whose current or previous refresh hash is h
// (revoked ones included), or ErrNotFound.
func (m *MemSessions) SessionByRefreshHash(ctx context.Context, h string) (*auth.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if h != "" {
		for _, s := range m.m {
			if s.RefreshHash == h || s.PrevRefreshHash == h {
				return cloneSession(s), nil
			}
		}
	}
	return nil, fmt.Errorf("%w: session", auth.ErrNotFound)
}

// RotateRefresh replaces the refresh hash only when the stored one is oldHash and the
// session is not revoked (else ErrConflict; ErrNotFound when missing).
func (m *MemSessions) RotateRefresh(ctx context.Context, id int64, oldHash, newHash, accessHash string, accessExp, refreshExp, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.get(id)
	if err != nil {
		return err
	}
	if s.RevokedAt != nil || s.RefreshHash != oldHash {
		return fmt.Errorf("%w: refresh token already rotated or session revoked", auth.ErrConflict)
	}
	s.PrevRefreshHash, s.RefreshHash = oldHash, newHash
	s.RotatedAt = &now
	s.TokenHash, s.ExpiresAt, s.RefreshExpiresAt, s.LastActivity = accessHash, accessExp, refreshExp, now
	return nil
}

// UpdateAccess records a re-issued access token and activity. ErrNotFound.
func (m *MemSessions) UpdateAccess(ctx context.Context, id int64, accessHash string, accessExp, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.get(id)
	if err != nil {
		return err
	}
	s.TokenHash, s.ExpiresAt, s.LastActivity = accessHash, accessExp, now
	return nil
}

// TouchSession sets LastActivity. ErrNotFound.
func (m *MemSessions) TouchSession(ctx context.Context, id int64, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.get(id)
	if err != nil {
		return err
	}
	s.LastActivity = now
	return nil
}

// RevokeSession marks the session revoked with reason; an already revoked one keeps its
// first revocation and returns nil. ErrNotFound.
func (m *MemSessions) RevokeSession(ctx context.Context, id int64, reason string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.get(id)
	if err != nil {
		return err
	}
	if s.RevokedAt == nil {
		s.RevokedAt, s.RevokeReason = &now, reason
	}
	return nil
}

// RevokeUserSessions revokes every session of userID live at now except exceptID and
// returns the revoked IDs in ascending order.
func (m *MemSessions) RevokeUserSessions(ctx context.Context, userID, exceptID int64, reason string, now time.Time) ([]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []int64
	for id, s := range m.m {
		if s.UserID == userID && id != exceptID && s.Live(now) {
			s.RevokedAt, s.RevokeReason = &now, reason
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// ListSessions returns userID's sessions, newest first (by CreatedAt, then ID); liveOnly
// drops revoked and expired ones.
func (m *MemSessions) ListSessions(ctx context.Context, userID int64, liveOnly bool, now time.Time) ([]auth.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []auth.Session
	for _, s := range m.m {
		if s.UserID == userID && (!liveOnly || s.Live(now)) {
			out = append(out, *cloneSession(s))
		}
	}
	slices.SortFunc(out, func(a, b auth.Session) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
	})
	return out, nil
}

// CountLiveSessions counts sessions live at now.
func (m *MemSessions) CountLiveSessions(ctx context.Context, now time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, s := range m.m {
		if s.Live(now) {
			n++
		}
	}
	return n, nil
}

// ---------------------------------------------------------------------------------------
// Registration codes

// MemCodes is an in-memory auth.CodeStore. Code texts are unique. The zero value is ready
// to use; safe for concurrent use.
type MemCodes struct {
	mu     sync.Mutex
	nextID int64
	m      map[int64]*auth.RegistrationCode
}

// byCode returns the stored code with text code, or nil. Call with m.mu held.
func (m *MemCodes) byCode(code string) *auth.RegistrationCode {
	for _, c := range m.m {
		if c.Code == code {
			return c
		}
	}
	return nil
}

// CreateCode inserts c and sets its ID (and CreatedAt when zero). ErrConflict when the code
// text exists, ErrInvalid when it is empty.
func (m *MemCodes) CreateCode(ctx context.Context, c *auth.RegistrationCode) error {
	if c.Code == "" {
		return fmt.Errorf("%w: empty registration code", auth.ErrInvalid)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = make(map[int64]*auth.RegistrationCode)
	}
	if m.byCode(c.Code) != nil {
		return fmt.Errorf("%w: registration code exists", auth.ErrConflict)
	}
	m.nextID++
	c.ID = m.nextID
	if c.CreatedAt.IsZero() {
		c.CreatedAt = time.Now().UTC()
	}
	v := *c
	m.m[c.ID] = &v
	return nil
}

// ListCodes returns the codes newest first (by CreatedAt, then ID); without includeInactive
// only those with IsActive set.
func (m *MemCodes) ListCodes(ctx context.Context, includeInactive bool) ([]auth.RegistrationCode, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []auth.RegistrationCode
	for _, c := range m.m {
		if includeInactive || c.IsActive {
			out = append(out, *c)
		}
	}
	slices.SortFunc(out, func(a, b auth.RegistrationCode) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
	})
	return out, nil
}

// CodeByID returns a copy of the code, or ErrNotFound.
func (m *MemCodes) CodeByID(ctx context.Context, id int64) (*auth.RegistrationCode, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.m[id]
	if !ok {
		return nil, fmt.Errorf("%w: registration code %d", auth.ErrNotFound, id)
	}
	v := *c
	return &v, nil
}

// RevokeCode clears IsActive. ErrNotFound when absent.
func (m *MemCodes) RevokeCode(ctx context.Context, id int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.m[id]
	if !ok {
		return fmt.Errorf("%w: registration code %d", auth.ErrNotFound, id)
	}
	c.IsActive = false
	return nil
}

// ---------------------------------------------------------------------------------------
// API keys

// MemAPIKeys is an in-memory auth.APIKeyStore. Key ids are unique. The zero value is ready
// to use; safe for concurrent use.
type MemAPIKeys struct {
	mu     sync.Mutex
	nextID int64
	m      map[int64]*auth.APIKey
}

func cloneKey(k *auth.APIKey) *auth.APIKey {
	c := *k
	c.Scopes = slices.Clone(k.Scopes)
	c.ExpiresAt = clonePtr(k.ExpiresAt)
	c.LastUsedAt = clonePtr(k.LastUsedAt)
	c.RevokedAt = clonePtr(k.RevokedAt)
	return &c
}

func (m *MemAPIKeys) keyIDTaken(keyID string, exceptID int64) bool {
	for id, k := range m.m {
		if id != exceptID && k.KeyID == keyID {
			return true
		}
	}
	return false
}

// own returns userID's key id, or ErrNotFound (also for another user's key).
func (m *MemAPIKeys) own(userID, id int64) (*auth.APIKey, error) {
	k, ok := m.m[id]
	if !ok || k.UserID != userID {
		return nil, fmt.Errorf("%w: API key %d", auth.ErrNotFound, id)
	}
	return k, nil
}

// CreateAPIKey inserts k and sets its ID (and CreatedAt when zero). ErrConflict for a taken
// KeyID.
func (m *MemAPIKeys) CreateAPIKey(ctx context.Context, k *auth.APIKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = make(map[int64]*auth.APIKey)
	}
	if m.keyIDTaken(k.KeyID, 0) {
		return fmt.Errorf("%w: API key id exists", auth.ErrConflict)
	}
	m.nextID++
	k.ID = m.nextID
	if k.CreatedAt.IsZero() {
		k.CreatedAt = time.Now().UTC()
	}
	m.m[k.ID] = cloneKey(k)
	return nil
}

// APIKeyByKeyID returns a copy of the key with keyID (revoked and expired ones included),
// or ErrNotFound.
func (m *MemAPIKeys) APIKeyByKeyID(ctx context.Context, keyID string) (*auth.APIKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range m.m {
		if keyID != "" && k.KeyID == keyID {
			return cloneKey(k), nil
		}
	}
	return nil, fmt.Errorf("%w: API key", auth.ErrNotFound)
}

// ListAPIKeys returns userID's keys in ID order.
func (m *MemAPIKeys) ListAPIKeys(ctx context.Context, userID int64) ([]auth.APIKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []auth.APIKey
	for _, k := range m.m {
		if k.UserID == userID {
			out = append(out, *cloneKey(k))
		}
	}
	slices.SortFunc(out, func(a, b auth.APIKey) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// ReplaceAPIKeySecret sets a new KeyID, Prefix and Hash on userID's key id. ErrNotFound
// (also for another user's key), ErrConflict for a taken KeyID.
func (m *MemAPIKeys) ReplaceAPIKeySecret(ctx context.Context, userID, id int64, keyID, prefix, hash string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, err := m.own(userID, id)
	if err != nil {
		return err
	}
	if m.keyIDTaken(keyID, id) {
		return fmt.Errorf("%w: API key id exists", auth.ErrConflict)
	}
	k.KeyID, k.Prefix, k.Hash = keyID, prefix, hash
	return nil
}

// RevokeAPIKey sets RevokedAt on userID's key id (kept when already revoked). ErrNotFound
// (also for another user's key).
func (m *MemAPIKeys) RevokeAPIKey(ctx context.Context, userID, id int64, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, err := m.own(userID, id)
	if err != nil {
		return err
	}
	if k.RevokedAt == nil {
		k.RevokedAt = &now
	}
	return nil
}

// revokeUser revokes every unrevoked key of userID but except at now and returns how many.
func (m *MemAPIKeys) revokeUser(userID, except int64, now time.Time) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, k := range m.m {
		if k.UserID == userID && k.ID != except && k.RevokedAt == nil {
			k.RevokedAt = &now
			n++
		}
	}
	return n
}

// TouchAPIKey sets LastUsedAt. ErrNotFound.
func (m *MemAPIKeys) TouchAPIKey(ctx context.Context, id int64, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.m[id]
	if !ok {
		return fmt.Errorf("%w: API key %d", auth.ErrNotFound, id)
	}
	k.LastUsedAt = &now
	return nil
}

// ---------------------------------------------------------------------------------------
// Lockout

// MemLockout is an in-memory auth.LockoutStore. The zero value is ready to use; safe for
// concurrent use.
type MemLockout struct {
	mu sync.Mutex
	m  map[string]*lockState
}

type lockState struct {
	fails []time.Time // failures not yet outside the window
	until time.Time   // lock end; zero when never locked
}

// Fail records a failure of key at now. Failures older than window no longer count; when
// those within it reach max (≥ 1), key is locked until now+lockFor and its count starts
// afresh. A failure while key is locked changes nothing. It returns the lock's end while
// key is locked at now, else the zero time.
func (m *MemLockout) Fail(ctx context.Context, key string, now time.Time, window time.Duration, max int, lockFor time.Duration) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = make(map[string]*lockState)
	}
	st := m.m[key]
	if st == nil {
		st = &lockState{}
		m.m[key] = st
	}
	if st.until.After(now) {
		return st.until, nil
	}
	cutoff := now.Add(-window)
	st.fails = slices.DeleteFunc(st.fails, func(t time.Time) bool { return !t.After(cutoff) })
	st.fails = append(st.fails, now)
	if max > 0 && len(st.fails) >= max {
		st.until, st.fails = now.Add(lockFor), nil
		return st.until, nil
	}
	return time.Time{}, nil
}

// LockedUntil returns the lock's end while key is locked at now, else the zero time.
func (m *MemLockout) LockedUntil(ctx context.Context, key string, now time.Time) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if st := m.m[key]; st != nil && st.until.After(now) {
		return st.until, nil
	}
	return time.Time{}, nil
}

// Reset forgets key's failures and lock.
func (m *MemLockout) Reset(ctx context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, key)
	return nil
}

// ResetTree forgets key and every key that starts with key+"|".
func (m *MemLockout) ResetTree(ctx context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.m {
		if k == key || strings.HasPrefix(k, key+"|") {
			delete(m.m, k)
		}
	}
	return nil
}

// ---------------------------------------------------------------------------------------
// Settings

// MemSettings is an in-memory auth.SettingsStore. The zero value is ready to use; safe for
// concurrent use.
type MemSettings struct {
	mu sync.Mutex
	m  map[string]string
}

// Setting returns key's value, or ok=false when unset.
func (m *MemSettings) Setting(ctx context.Context, key string) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.m[key]
	return v, ok, nil
}

// SetSetting stores value under key.
func (m *MemSettings) SetSetting(ctx context.Context, key, value string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = make(map[string]string)
	}
	m.m[key] = value
	return nil
}
