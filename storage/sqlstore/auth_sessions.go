package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tldw-go/tldw/auth"
)

// Sessions is the SQL auth.SessionStore, on the sessions table. Its is_active
// column mirrors revoked_at IS NULL for tldw_server tools. Safe for concurrent
// use; RotateRefresh is a compare-and-swap in one statement.
type Sessions struct{ db *DB }

var (
	_ auth.SessionStore       = (*Sessions)(nil)
	_ auth.LiveSessionCounter = (*Sessions)(nil)
)

// Sessions returns the session store on db.
func (db *DB) Sessions() *Sessions { return &Sessions{db: db} }

const sessionCols = `id, user_id, token_hash, refresh_hash, prev_refresh_hash, rotated_at,
	ip_address, user_agent, created_at, last_activity, expires_at, refresh_expires_at,
	revoked_at, revoke_reason`

type sessionRow struct {
	ID               int64      `bun:"id"`
	UserID           int64      `bun:"user_id"`
	TokenHash        string     `bun:"token_hash"`
	RefreshHash      string     `bun:"refresh_hash"`
	PrevRefreshHash  *string    `bun:"prev_refresh_hash"`
	RotatedAt        *time.Time `bun:"rotated_at"`
	IPAddress        string     `bun:"ip_address"`
	UserAgent        string     `bun:"user_agent"`
	CreatedAt        time.Time  `bun:"created_at"`
	LastActivity     time.Time  `bun:"last_activity"`
	ExpiresAt        time.Time  `bun:"expires_at"`
	RefreshExpiresAt time.Time  `bun:"refresh_expires_at"`
	RevokedAt        *time.Time `bun:"revoked_at"`
	RevokeReason     *string    `bun:"revoke_reason"`
}

func (r *sessionRow) session() auth.Session {
	return auth.Session{
		ID: r.ID, UserID: r.UserID, TokenHash: r.TokenHash, RefreshHash: r.RefreshHash,
		PrevRefreshHash: deref(r.PrevRefreshHash), RotatedAt: timePtr(r.RotatedAt),
		IPAddress: r.IPAddress, UserAgent: r.UserAgent, CreatedAt: r.CreatedAt.UTC(),
		LastActivity: r.LastActivity.UTC(), ExpiresAt: r.ExpiresAt.UTC(),
		RefreshExpiresAt: r.RefreshExpiresAt.UTC(), RevokedAt: timePtr(r.RevokedAt),
		RevokeReason: deref(r.RevokeReason),
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// CreateSession inserts s and sets its ID; a zero CreatedAt becomes the
// current time and a zero LastActivity becomes CreatedAt. It returns
// auth.ErrInvalid without a refresh hash, auth.ErrNotFound for an unknown
// user and auth.ErrConflict for a refresh hash already in use.
func (st *Sessions) CreateSession(ctx context.Context, s *auth.Session) error {
	if s.RefreshHash == "" {
		return fmt.Errorf("%w: session needs a refresh hash", auth.ErrInvalid)
	}
	created := orNow(s.CreatedAt)
	last := created
	if !s.LastActivity.IsZero() {
		last = utc(s.LastActivity)
	}
	var id int64
	err := st.db.bun.NewRaw(`INSERT INTO sessions (user_id, token_hash, refresh_hash,
		prev_refresh_hash, rotated_at, ip_address, user_agent, created_at, last_activity,
		expires_at, refresh_expires_at, revoked_at, revoke_reason, is_active)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		s.UserID, s.TokenHash, s.RefreshHash, nullString(s.PrevRefreshHash), st.db.nullTimeArg(s.RotatedAt),
		s.IPAddress, s.UserAgent, st.db.timeArg(created), st.db.timeArg(last), st.db.timeArg(s.ExpiresAt), st.db.timeArg(s.RefreshExpiresAt),
		st.db.nullTimeArg(s.RevokedAt), nullString(s.RevokeReason), s.RevokedAt == nil).Scan(ctx, &id)
	if err != nil {
		return authErr("create session", "session", err)
	}
	s.ID, s.CreatedAt, s.LastActivity = id, created, last
	return nil
}

// SessionByID returns the session with id, or auth.ErrNotFound.
func (st *Sessions) SessionByID(ctx context.Context, id int64) (*auth.Session, error) {
	return st.one(ctx, "session by id", `SELECT `+sessionCols+` FROM sessions WHERE id = ?`, id)
}

// SessionByRefreshHash returns the session whose current refresh hash is h,
// else the one whose previous refresh hash is h, else auth.ErrNotFound.
func (st *Sessions) SessionByRefreshHash(ctx context.Context, h string) (*auth.Session, error) {
	if h == "" {
		return nil, fmt.Errorf("%w: session", auth.ErrNotFound)
	}
	s, err := st.one(ctx, "session by refresh hash", `SELECT `+sessionCols+` FROM sessions WHERE refresh_hash = ?`, h)
	if !errors.Is(err, auth.ErrNotFound) {
		return s, err
	}
	return st.one(ctx, "session by refresh hash", `SELECT `+sessionCols+` FROM sessions
		WHERE prev_refresh_hash = ? ORDER BY id DESC LIMIT 1`, h)
}

func (st *Sessions) one(ctx context.Context, op, query string, args ...any) (*auth.Session, error) {
	var row sessionRow
	if err := st.db.bun.NewRaw(query, args...).Scan(ctx, &row); err != nil {
		return nil, authErr(op, "session", err)
	}
	s := row.session()
	return &s, nil
}

// RotateRefresh replaces the refresh hash of session id with newHash only
// when the stored one is oldHash and the session is not revoked, setting
// PrevRefreshHash, RotatedAt, TokenHash, ExpiresAt, RefreshExpiresAt and
// LastActivity. Of concurrent rotations from one oldHash exactly one wins.
// It returns auth.ErrConflict when the hash does not match or the session is
// revoked (or newHash is in use), and auth.ErrNotFound for an unknown id.
func (st *Sessions) RotateRefresh(ctx context.Context, id int64, oldHash, newHash, accessHash string, accessExp, refreshExp, now time.Time) error {
	if newHash == "" {
		return fmt.Errorf("%w: session needs a refresh hash", auth.ErrInvalid)
	}
	at := st.db.timeArg(now)
	res, err := st.db.bun.NewRaw(`UPDATE sessions SET refresh_hash = ?, prev_refresh_hash = ?,
		rotated_at = ?, token_hash = ?, expires_at = ?, refresh_expires_at = ?, last_activity = ?
		WHERE id = ? AND refresh_hash = ? AND revoked_at IS NULL`,
		newHash, oldHash, at, accessHash, st.db.timeArg(accessExp), st.db.timeArg(refreshExp), at, id, oldHash).Exec(ctx)
	if err != nil {
		return authErr("rotate refresh token", "session", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return authErr("rotate refresh token", "session", err)
	} else if n > 0 {
		return nil
	}
	if _, err := st.SessionByID(ctx, id); err != nil {
		return err
	}
	return fmt.Errorf("%w: refresh token already rotated or session revoked", auth.ErrConflict)
}

// UpdateAccess records a re-issued access token (hash and expiry) and sets
// LastActivity to now. It returns auth.ErrNotFound for an unknown id.
func (st *Sessions) UpdateAccess(ctx context.Context, id int64, accessHash string, accessExp, now time.Time) error {
	res, err := st.db.bun.NewRaw(`UPDATE sessions SET token_hash = ?, expires_at = ?, last_activity = ?
		WHERE id = ?`, accessHash, st.db.timeArg(accessExp), st.db.timeArg(now), id).Exec(ctx)
	if err != nil {
		return authErr("update session access", "session", err)
	}
	return affected("update session access", "session", res)
}

// TouchSession sets LastActivity to now. It returns auth.ErrNotFound for an
// unknown id.
func (st *Sessions) TouchSession(ctx context.Context, id int64, now time.Time) error {
	res, err := st.db.bun.NewRaw(`UPDATE sessions SET last_activity = ? WHERE id = ?`, st.db.timeArg(now), id).Exec(ctx)
	if err != nil {
		return authErr("touch session", "session", err)
	}
	return affected("touch session", "session", res)
}

// RevokeSession marks session id revoked at now with reason. Revoking a
// revoked session changes nothing and is not an error; an unknown id is
// auth.ErrNotFound.
func (st *Sessions) RevokeSession(ctx context.Context, id int64, reason string, now time.Time) error {
	res, err := st.db.bun.NewRaw(`UPDATE sessions SET
		revoke_reason = CASE WHEN revoked_at IS NULL THEN ? ELSE revoke_reason END,
		revoked_at = COALESCE(revoked_at, ?), is_active = FALSE WHERE id = ?`,
		nullString(reason), st.db.timeArg(now), id).Exec(ctx)
	if err != nil {
		return authErr("revoke session", "session", err)
	}
	return affected("revoke session", "session", res)
}

// RevokeUserSessions revokes, at now with reason, every live session of
// userID (not revoked, refresh not expired at now) except exceptID (0 = none),
// and returns the IDs it revoked in ascending order.
func (st *Sessions) RevokeUserSessions(ctx context.Context, userID, exceptID int64, reason string, now time.Time) ([]int64, error) {
	at := st.db.timeArg(now)
	var ids []int64
	err := st.db.bun.NewRaw(`UPDATE sessions SET revoked_at = ?, revoke_reason = ?, is_active = FALSE
		WHERE user_id = ? AND id <> ? AND revoked_at IS NULL AND refresh_expires_at > ?
		RETURNING id`, at, nullString(reason), userID, exceptID, at).Scan(ctx, &ids)
	if err != nil {
		return nil, authErr("revoke user sessions", "session", err)
	}
	slices.Sort(ids)
	return ids, nil
}

// ListSessions returns userID's sessions, newest first; liveOnly drops those
// revoked or whose refresh token has expired at now.
func (st *Sessions) ListSessions(ctx context.Context, userID int64, liveOnly bool, now time.Time) ([]auth.Session, error) {
	q, args := `SELECT `+sessionCols+` FROM sessions WHERE user_id = ?`, []any{userID}
	if liveOnly {
		q += ` AND revoked_at IS NULL AND refresh_expires_at > ?`
		args = append(args, st.db.timeArg(now))
	}
	var rows []sessionRow
	if err := st.db.bun.NewRaw(q+` ORDER BY created_at DESC, id DESC`, args...).Scan(ctx, &rows); err != nil {
		return nil, authErr("list sessions", "session", err)
	}
	out := make([]auth.Session, len(rows))
	for i := range rows {
		out[i] = rows[i].session()
	}
	return out, nil
}

// CountLiveSessions counts the sessions of all users that are not revoked and
// whose refresh token has not expired at now.
func (st *Sessions) CountLiveSessions(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := st.db.bun.NewRaw(`SELECT count(*) FROM sessions WHERE revoked_at IS NULL AND refresh_expires_at > ?`,
		st.db.timeArg(now)).Scan(ctx, &n)
	if err != nil {
		return 0, authErr("count live sessions", "session", err)
	}
	return n, nil
}
