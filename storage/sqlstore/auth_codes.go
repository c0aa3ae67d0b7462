package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/tldw-go/tldw/auth"
)

// Codes is the SQL auth.CodeStore, on the registration_codes table.
// Redemption is Users.CreateUserWithCode. Safe for concurrent use.
type Codes struct{ db *DB }

var _ auth.CodeStore = (*Codes)(nil)

// Codes returns the registration-code store on db.
func (db *DB) Codes() *Codes { return &Codes{db: db} }

const codeCols = `id, code, max_uses, times_used, expires_at, role_to_grant,
	allowed_email_domain, is_active, created_by, created_at`

type codeRow struct {
	ID                 int64     `bun:"id"`
	Code               string    `bun:"code"`
	MaxUses            int       `bun:"max_uses"`
	TimesUsed          int       `bun:"times_used"`
	ExpiresAt          time.Time `bun:"expires_at"`
	RoleToGrant        string    `bun:"role_to_grant"`
	AllowedEmailDomain *string   `bun:"allowed_email_domain"`
	IsActive           bool      `bun:"is_active"`
	CreatedBy          *int64    `bun:"created_by"`
	CreatedAt          time.Time `bun:"created_at"`
}

func (r *codeRow) code() auth.RegistrationCode {
	c := auth.RegistrationCode{
		ID: r.ID, Code: r.Code, MaxUses: r.MaxUses, TimesUsed: r.TimesUsed,
		ExpiresAt: r.ExpiresAt.UTC(), RoleToGrant: auth.Role(r.RoleToGrant),
		AllowedEmailDomain: deref(r.AllowedEmailDomain), IsActive: r.IsActive,
		CreatedAt: r.CreatedAt.UTC(),
	}
	if r.CreatedBy != nil {
		c.CreatedBy = *r.CreatedBy
	}
	return c
}

// CreateCode inserts c and sets its ID; a zero CreatedAt becomes the current
// time. CreatedBy 0 means no creator (the CLI). It returns auth.ErrInvalid for
// an empty code, MaxUses below 1, TimesUsed outside 0..MaxUses or an invalid
// role, auth.ErrNotFound for an unknown creator and auth.ErrConflict for a
// code that exists.
func (s *Codes) CreateCode(ctx context.Context, c *auth.RegistrationCode) error {
	switch {
	case c.Code == "":
		return fmt.Errorf("%w: registration code is empty", auth.ErrInvalid)
	case c.MaxUses < 1:
		return fmt.Errorf("%w: max uses must be at least 1", auth.ErrInvalid)
	case c.TimesUsed < 0 || c.TimesUsed > c.MaxUses:
		return fmt.Errorf("%w: times used must be between 0 and max uses", auth.ErrInvalid)
	}
	if _, err := auth.ParseRole(string(c.RoleToGrant)); err != nil {
		return err
	}
	created := orNow(c.CreatedAt)
	var id int64
	err := s.db.bun.NewRaw(`INSERT INTO registration_codes (code, max_uses, times_used,
		expires_at, role_to_grant, allowed_email_domain, is_active, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		c.Code, c.MaxUses, c.TimesUsed, s.db.timeArg(c.ExpiresAt), string(c.RoleToGrant),
		nullString(c.AllowedEmailDomain), c.IsActive, nullID(c.CreatedBy), s.db.timeArg(created)).Scan(ctx, &id)
	if err != nil {
		return authErr("create registration code", "registration code", err)
	}
	c.ID, c.CreatedAt = id, created
	return nil
}

// ListCodes returns the codes newest first; without includeInactive only
// codes not revoked (IsActive), whether or not they are expired or used up.
func (s *Codes) ListCodes(ctx context.Context, includeInactive bool) ([]auth.RegistrationCode, error) {
	q := `SELECT ` + codeCols + ` FROM registration_codes`
	if !includeInactive {
		q += ` WHERE is_active`
	}
	var rows []codeRow
	if err := s.db.bun.NewRaw(q+` ORDER BY created_at DESC, id DESC`).Scan(ctx, &rows); err != nil {
		return nil, authErr("list registration codes", "registration code", err)
	}
	out := make([]auth.RegistrationCode, len(rows))
	for i := range rows {
		out[i] = rows[i].code()
	}
	return out, nil
}

// CodeByID returns the code with id, or auth.ErrNotFound.
func (s *Codes) CodeByID(ctx context.Context, id int64) (*auth.RegistrationCode, error) {
	var row codeRow
	err := s.db.bun.NewRaw(`SELECT `+codeCols+` FROM registration_codes WHERE id = ?`, id).Scan(ctx, &row)
	if err != nil {
		return nil, authErr("registration code by id", "registration code", err)
	}
	c := row.code()
	return &c, nil
}

// RevokeCode deactivates code id (again is fine); auth.ErrNotFound when absent.
func (s *Codes) RevokeCode(ctx context.Context, id int64) error {
	res, err := s.db.bun.NewRaw(`UPDATE registration_codes SET is_active = FALSE WHERE id = ?`, id).Exec(ctx)
	if err != nil {
		return authErr("revoke registration code", "registration code", err)
	}
	return affected("revoke registration code", "registration code", res)
}
