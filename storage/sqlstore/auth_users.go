package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/tldw-go/tldw/auth"
)

// List limits of Users.ListUsers.
const (
	defaultUserLimit = 20
	maxUserLimit     = 100
)

// Users is the SQL auth.UserStore, on the users and password_history tables.
// Uniqueness is enforced by the database on username_canon and email_canon,
// which Users computes with auth.CanonicalUsername and auth.CanonicalEmail.
// Safe for concurrent use.
type Users struct{ db *DB }

var _ auth.UserStore = (*Users)(nil)

// Users returns the user store on db.
func (db *DB) Users() *Users { return &Users{db: db} }

const userCols = `id, uuid, username, email, password_hash, role, is_active, is_verified,
	must_change_password, created_at, updated_at, last_login, created_by, storage_quota_mb,
	storage_used_bytes, audio_tier`

type userRow struct {
	ID                 int64      `bun:"id"`
	UUID               string     `bun:"uuid"`
	Username           string     `bun:"username"`
	Email              string     `bun:"email"`
	PasswordHash       string     `bun:"password_hash"`
	Role               string     `bun:"role"`
	IsActive           bool       `bun:"is_active"`
	IsVerified         bool       `bun:"is_verified"`
	MustChangePassword bool       `bun:"must_change_password"`
	CreatedAt          time.Time  `bun:"created_at"`
	UpdatedAt          time.Time  `bun:"updated_at"`
	LastLogin          *time.Time `bun:"last_login"`
	CreatedBy          *int64     `bun:"created_by"`
	StorageQuotaMB     *int64     `bun:"storage_quota_mb"`
	StorageUsedBytes   int64      `bun:"storage_used_bytes"`
	AudioTier          string     `bun:"audio_tier"`
}

func (r *userRow) user() auth.User {
	return auth.User{
		ID: r.ID, UUID: r.UUID, Username: r.Username, Email: r.Email,
		PasswordHash: r.PasswordHash, Role: auth.Role(r.Role), IsActive: r.IsActive,
		IsVerified: r.IsVerified, MustChangePassword: r.MustChangePassword,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), LastLogin: timePtr(r.LastLogin),
		CreatedBy: r.CreatedBy, StorageQuotaMB: r.StorageQuotaMB, StorageUsedBytes: r.StorageUsedBytes,
		AudioTier: r.AudioTier,
	}
}

// canon validates u and returns its canonical username and email. Errors wrap
// auth.ErrInvalid.
func canon(u *auth.User) (username, email string, err error) {
	if username, err = auth.CanonicalUsername(u.Username); err != nil {
		return "", "", err
	}
	if email, err = auth.CanonicalEmail(u.Email); err != nil {
		return "", "", err
	}
	if _, err = auth.ParseRole(string(u.Role)); err != nil {
		return "", "", err
	}
	if u.PasswordHash == "" {
		return "", "", fmt.Errorf("%w: password hash is required", auth.ErrInvalid)
	}
	return username, email, nil
}

// CreateUser inserts u and sets its ID, UUID (unless given), CreatedAt and
// UpdatedAt (the current time when zero). It returns auth.ErrInvalid for an
// invalid username, email, role or empty password hash, and auth.ErrConflict
// when the canonical username or email is taken.
func (s *Users) CreateUser(ctx context.Context, u *auth.User) error {
	return s.create(ctx, s.db.bun, u)
}

func (s *Users) create(ctx context.Context, db bun.IDB, u *auth.User) error {
	uname, email, err := canon(u)
	if err != nil {
		return err
	}
	id := u.UUID
	if id == "" {
		id = uuid.NewString()
	} else if _, err := uuid.Parse(id); err != nil {
		return fmt.Errorf("%w: uuid %q is malformed", auth.ErrInvalid, id)
	}
	created := orNow(u.CreatedAt)
	updated := created
	if !u.UpdatedAt.IsZero() {
		updated = utc(u.UpdatedAt)
	}
	var newID int64
	err = db.NewRaw(`INSERT INTO users (uuid, username, username_canon, email, email_canon,
		password_hash, role, is_active, is_verified, must_change_password, created_at, updated_at,
		last_login, created_by, storage_quota_mb, audio_tier)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		id, u.Username, uname, u.Email, email, u.PasswordHash, string(u.Role), u.IsActive,
		u.IsVerified, u.MustChangePassword, s.db.timeArg(created), s.db.timeArg(updated), s.db.nullTimeArg(u.LastLogin),
		u.CreatedBy, u.StorageQuotaMB, u.AudioTier).Scan(ctx, &newID)
	if err != nil {
		return authErr("create user", "user", err)
	}
	u.ID, u.UUID, u.CreatedAt, u.UpdatedAt, u.StorageUsedBytes = newID, id, created, updated, 0
	return nil
}

// CreateUserWithCode redeems code at now and inserts u in one transaction;
// on any error neither happens. The code must exist, be active, unexpired and
// not used up, and when it restricts the email domain, u's email must be in
// that domain; otherwise the error wraps auth.ErrInvalid. It returns the code
// as redeemed (TimesUsed incremented). Concurrent redemptions of one code
// never exceed its MaxUses. Errors are those of CreateUser otherwise.
func (s *Users) CreateUserWithCode(ctx context.Context, u *auth.User, code string, now time.Time) (*auth.RegistrationCode, error) {
	if _, _, err := canon(u); err != nil {
		return nil, err
	}
	saved := *u
	var rc *auth.RegistrationCode
	err := s.db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var row codeRow
		err := tx.NewRaw(`UPDATE registration_codes SET times_used = times_used + 1
			WHERE code = ? AND is_active AND times_used < max_uses AND expires_at > ?
			RETURNING `+codeCols, code, s.db.timeArg(now)).Scan(ctx, &row)
		if err != nil {
			if err = authErr("redeem registration code", "registration code", err); errors.Is(err, auth.ErrNotFound) {
				return fmt.Errorf("%w: invalid registration code", auth.ErrInvalid)
			}
			return err
		}
		c := row.code()
		if !emailInDomain(u.Email, c.AllowedEmailDomain) {
			return fmt.Errorf("%w: email domain not allowed for this registration code", auth.ErrInvalid)
		}
		if err := s.create(ctx, tx, u); err != nil {
			return err
		}
		rc = &c
		return nil
	})
	if err != nil {
		*u = saved // nothing was stored
		return nil, authErr("create user with code", "user", err)
	}
	return rc, nil
}

// emailInDomain reports whether email's domain is domain (case-insensitive,
// a leading "@" ignored); an empty domain allows every email.
func emailInDomain(email, domain string) bool {
	domain = strings.TrimPrefix(strings.TrimSpace(domain), "@")
	if domain == "" {
		return true
	}
	canonical, err := auth.CanonicalEmail(email)
	if err != nil {
		return false
	}
	at := strings.LastIndexByte(canonical, '@')
	return canonical[at+1:] == cases.Fold().String(norm.NFKC.String(domain))
}

// UserByID returns the user with id, or auth.ErrNotFound.
func (s *Users) UserByID(ctx context.Context, id int64) (*auth.User, error) {
	var row userRow
	err := s.db.bun.NewRaw(`SELECT `+userCols+` FROM users WHERE id = ?`, id).Scan(ctx, &row)
	if err != nil {
		return nil, authErr("user by id", "user", err)
	}
	u := row.user()
	return &u, nil
}

// UserByLogin returns the user whose canonical username or canonical email
// equals the canonical form of login, or auth.ErrNotFound (also when login is
// neither a valid username nor a valid email).
func (s *Users) UserByLogin(ctx context.Context, login string) (*auth.User, error) {
	col, key := "username_canon", ""
	if c, err := auth.CanonicalUsername(login); err == nil {
		key = c
	} else if c, err := auth.CanonicalEmail(login); err == nil {
		col, key = "email_canon", c
	} else {
		return nil, fmt.Errorf("%w: user", auth.ErrNotFound)
	}
	var row userRow
	err := s.db.bun.NewRaw(`SELECT `+userCols+` FROM users WHERE `+col+` = ?`, key).Scan(ctx, &row)
	if err != nil {
		return nil, authErr("user by login", "user", err)
	}
	u := row.user()
	return &u, nil
}

// UpdateUser applies p to user id in one transaction: it writes only the
// columns p sets, refuses (auth.ErrLastAdmin) to demote or deactivate the last
// active admin, and with p.Revoke revokes the user's sessions and API keys (at
// UpdatedAt, or now when it is zero). On PostgreSQL a change of role or
// status first locks the user's row and every active admin's, in ID order, so
// concurrent demotions from any number of processes serialise and each sees
// the others' outcome; SQLite transactions are serial already (_txlock=immediate).
// Errors: auth.ErrNotFound, auth.ErrConflict (username or email taken, stale
// IfPasswordHash), auth.ErrLastAdmin, auth.ErrInvalid.
func (s *Users) UpdateUser(ctx context.Context, id int64, p auth.UserPatch) (*auth.UserChange, error) {
	set, args, err := s.patchSet(p)
	if err != nil {
		return nil, err
	}
	where, wargs := "id = ?", []any{id}
	if p.IfPasswordHash != "" {
		where, wargs = where+" AND password_hash = ?", append(wargs, p.IfPasswordHash)
	}
	admin := string(auth.RoleAdmin)
	if p.Role != nil || p.IsActive != nil {
		// The last active admin keeps both: the row stays (or becomes) an active admin, or
		// another active admin exists.
		role, active := any(bun.Ident("role")), any(bun.Ident("is_active"))
		if p.Role != nil {
			role = string(*p.Role)
		}
		if p.IsActive != nil {
			active = *p.IsActive
		}
		where += ` AND (NOT (role = ? AND is_active) OR (? = ? AND ?) OR EXISTS
			(SELECT 1 FROM users o WHERE o.role = ? AND o.is_active AND o.id <> users.id))`
		wargs = append(wargs, admin, role, admin, active, admin)
	}
	out := &auth.UserChange{}
	err = s.db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if (p.Role != nil || p.IsActive != nil) && s.db.dialect == dialectPostgres {
			var locked []int64
			if err := tx.NewRaw(`SELECT id FROM users WHERE id = ? OR (role = ? AND is_active)
				ORDER BY id FOR UPDATE`, id, admin).Scan(ctx, &locked); err != nil {
				return err
			}
		}
		var row userRow
		err := tx.NewRaw(`UPDATE users SET `+set+` WHERE `+where+` RETURNING `+userCols,
			append(args, wargs...)...).Scan(ctx, &row)
		if errors.Is(err, sql.ErrNoRows) {
			return s.whyNotUpdated(ctx, tx, id, p)
		}
		if err != nil {
			return err
		}
		u := row.user()
		out.User = &u
		if p.Revoke == nil {
			return nil
		}
		at := s.db.timeArg(orNow(p.UpdatedAt))
		if err := tx.NewRaw(`UPDATE sessions SET revoked_at = ?, revoke_reason = ?, is_active = FALSE
			WHERE user_id = ? AND id <> ? AND revoked_at IS NULL AND refresh_expires_at > ?
			RETURNING id`, at, nullString(p.Revoke.Reason), id, p.Revoke.ExceptSession, at).Scan(ctx, &out.Sessions); err != nil {
			return err
		}
		slices.Sort(out.Sessions)
		if p.Revoke.APIKeys {
			res, err := tx.NewRaw(`UPDATE api_keys SET revoked_at = ?
				WHERE user_id = ? AND id <> ? AND revoked_at IS NULL`, at, id, p.Revoke.ExceptAPIKey).Exec(ctx)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			out.APIKeys = int(n)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, authErr("update user", "user", err)
	}
	return out, nil
}

// patchSet renders the SET list of p and its arguments. An empty patch sets id = id, so
// the UPDATE still finds (and locks) the row.
func (s *Users) patchSet(p auth.UserPatch) (string, []any, error) {
	cols, args := []string{"id = id"}, []any(nil)
	add := func(col string, v any) { cols, args = append(cols, col+" = ?"), append(args, v) }
	if !p.UpdatedAt.IsZero() {
		add("updated_at", s.db.timeArg(p.UpdatedAt))
	}
	if p.Username != nil {
		c, err := auth.CanonicalUsername(*p.Username)
		if err != nil {
			return "", nil, err
		}
		add("username", *p.Username)
		add("username_canon", c)
	}
	if p.Email != nil {
		c, err := auth.CanonicalEmail(*p.Email)
		if err != nil {
			return "", nil, err
		}
		add("email", *p.Email)
		add("email_canon", c)
	}
	if p.PasswordHash != nil {
		if *p.PasswordHash == "" {
			return "", nil, fmt.Errorf("%w: password hash is required", auth.ErrInvalid)
		}
		add("password_hash", *p.PasswordHash)
	}
	if p.Role != nil {
		if _, err := auth.ParseRole(string(*p.Role)); err != nil {
			return "", nil, err
		}
		add("role", string(*p.Role))
	}
	if p.IsActive != nil {
		add("is_active", *p.IsActive)
	}
	if p.IsVerified != nil {
		add("is_verified", *p.IsVerified)
	}
	if p.MustChangePassword != nil {
		add("must_change_password", *p.MustChangePassword)
	}
	if p.LastLogin != nil {
		add("last_login", s.db.timeArg(*p.LastLogin))
	}
	if p.StorageQuotaMB != nil {
		add("storage_quota_mb", *p.StorageQuotaMB)
	}
	if p.AudioTier != nil {
		add("audio_tier", *p.AudioTier)
	}
	return strings.Join(cols, ", "), args, nil
}

// whyNotUpdated explains an UPDATE that matched no row: an unknown user, a stale
// IfPasswordHash or the last-admin rule.
func (s *Users) whyNotUpdated(ctx context.Context, tx bun.Tx, id int64, p auth.UserPatch) error {
	var hash string
	if err := tx.NewRaw(`SELECT password_hash FROM users WHERE id = ?`, id).Scan(ctx, &hash); err != nil {
		return err
	}
	if p.IfPasswordHash != "" && hash != p.IfPasswordHash {
		return fmt.Errorf("%w: password changed concurrently", auth.ErrConflict)
	}
	return auth.ErrLastAdmin
}

// ListUsers returns one page of the users matching f, ordered by ID, and the
// number of all matches. Search matches a case-insensitive substring of the
// username or email (compared in canonical form; % and _ are literal). Limit
// is 20 when not positive and at most 100; a negative Offset is 0.
func (s *Users) ListUsers(ctx context.Context, f auth.UserFilter) ([]auth.User, int, error) {
	var (
		where []string
		args  []any
	)
	if f.Role != "" {
		where, args = append(where, "role = ?"), append(args, string(f.Role))
	}
	if f.IsActive != nil {
		where, args = append(where, "is_active = ?"), append(args, *f.IsActive)
	}
	if f.Search != "" {
		p := "%" + likeEscaper.Replace(cases.Fold().String(norm.NFKC.String(strings.TrimSpace(f.Search)))) + "%"
		where = append(where, `(username_canon LIKE ? ESCAPE '\' OR email_canon LIKE ? ESCAPE '\')`)
		args = append(args, p, p)
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.db.bun.NewRaw(`SELECT count(*) FROM users`+cond, args...).Scan(ctx, &total); err != nil {
		return nil, 0, authErr("count users", "user", err)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultUserLimit
	}
	limit = min(limit, maxUserLimit)
	offset := max(f.Offset, 0)
	var rows []userRow
	err := s.db.bun.NewRaw(`SELECT `+userCols+` FROM users`+cond+` ORDER BY id LIMIT ? OFFSET ?`,
		append(args, limit, offset)...).Scan(ctx, &rows)
	if err != nil {
		return nil, 0, authErr("list users", "user", err)
	}
	users := make([]auth.User, len(rows))
	for i := range rows {
		users[i] = rows[i].user()
	}
	return users, total, nil
}

// likeEscaper escapes LIKE wildcards for ESCAPE '\'.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// CountUsers counts all users.
func (s *Users) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.db.bun.NewRaw(`SELECT count(*) FROM users`).Scan(ctx, &n); err != nil {
		return 0, authErr("count users", "user", err)
	}
	return n, nil
}

// CountActiveAdmins counts active users with role admin.
func (s *Users) CountActiveAdmins(ctx context.Context) (int, error) {
	var n int
	err := s.db.bun.NewRaw(`SELECT count(*) FROM users WHERE role = ? AND is_active`, string(auth.RoleAdmin)).Scan(ctx, &n)
	if err != nil {
		return 0, authErr("count admins", "user", err)
	}
	return n, nil
}

// PasswordHistory returns the user's n most recent previous password hashes,
// newest first (none when n ≤ 0 or the user is unknown).
func (s *Users) PasswordHistory(ctx context.Context, userID int64, n int) ([]string, error) {
	if n <= 0 {
		return nil, nil
	}
	var hashes []string
	err := s.db.bun.NewRaw(`SELECT password_hash FROM password_history WHERE user_id = ?
		ORDER BY id DESC LIMIT ?`, userID, n).Scan(ctx, &hashes)
	if err != nil {
		return nil, authErr("password history", "user", err)
	}
	return hashes, nil
}

// AddPasswordHistory records hash as the user's newest previous password and
// deletes all but the newest keep entries, in one transaction. It returns
// auth.ErrNotFound for an unknown user.
func (s *Users) AddPasswordHistory(ctx context.Context, userID int64, hash string, keep int) error {
	err := s.db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewRaw(`INSERT INTO password_history (user_id, password_hash, created_at)
			VALUES (?, ?, ?)`, userID, hash, s.db.timeArg(time.Now())).Exec(ctx); err != nil {
			return err
		}
		_, err := tx.NewRaw(`DELETE FROM password_history WHERE user_id = ? AND id NOT IN
			(SELECT id FROM password_history WHERE user_id = ? ORDER BY id DESC LIMIT ?)`,
			userID, userID, max(keep, 0)).Exec(ctx)
		return err
	})
	return authErr("add password history", "user", err)
}
