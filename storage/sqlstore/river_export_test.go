package sqlstore

import (
	"database/sql"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// RiverMigrations lists the labels of River's migrations for a dialect, as Migrate
// reports them.
func RiverMigrations(dialect string) []string {
	var drv riverdriver.Driver[*sql.Tx] = riverdatabasesql.New(nil)
	if dialect == dialectSQLite {
		drv = riversqlite.New(nil)
	}
	m, err := rivermigrate.New(drv, nil)
	if err != nil {
		panic(err)
	}
	var out []string
	for _, v := range m.AllVersions() {
		out = append(out, riverLabel(v.Version, v.Name))
	}
	return out
}
