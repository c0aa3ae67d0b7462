package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/tldw-go/tldw/auth"
)

// settingPrefix keeps runtime settings apart from the other facts in
// tldw_meta: setting "enable_registration" is row "setting:enable_registration".
const settingPrefix = "setting:"

// Settings is the SQL auth.SettingsStore, on the tldw_meta table. Safe for
// concurrent use.
type Settings struct{ db *DB }

var _ auth.SettingsStore = (*Settings)(nil)

// Settings returns the settings store on db.
func (db *DB) Settings() *Settings { return &Settings{db: db} }

// Setting returns the value of key, or ok=false when it was never set. It
// returns database errors only.
func (s *Settings) Setting(ctx context.Context, key string) (string, bool, error) {
	var value string
	err := s.db.bun.NewRaw(`SELECT value FROM tldw_meta WHERE key = ?`, settingPrefix+key).Scan(ctx, &value)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", false, nil
	case err != nil:
		return "", false, authErr("read setting", "setting", err)
	}
	return value, true, nil
}

// SetSetting stores value under key, replacing any previous value. It returns
// database errors only.
func (s *Settings) SetSetting(ctx context.Context, key, value string) error {
	_, err := s.db.bun.NewRaw(`INSERT INTO tldw_meta (key, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		settingPrefix+key, value, s.db.timeArg(time.Now())).Exec(ctx)
	return authErr("write setting", "setting", err)
}
