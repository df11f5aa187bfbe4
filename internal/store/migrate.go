package store

import (
	"database/sql"
	"fmt"
)

// columns added to existing databases after their table was created:
// table, column, SQL type.
var addedColumns = [][3]string{
	{"sandboxes", "resources", "TEXT"}, // effective resources (JSON), NULL when none
}

// migrate adds the addedColumns a database made by an older server lacks.
func migrate(db *sql.DB) error {
	for _, c := range addedColumns {
		var n int
		err := db.QueryRow(`SELECT COUNT(*) FROM pragma_table_info(?) WHERE name=?`, c[0], c[1]).Scan(&n)
		if err != nil {
			return fmt.Errorf("store: migrate: %w", err)
		}
		if n == 0 {
			if _, err := db.Exec(`ALTER TABLE ` + c[0] + ` ADD COLUMN ` + c[1] + ` ` + c[2]); err != nil {
				return fmt.Errorf("store: migrate: %w", err)
			}
		}
	}
	return nil
}
