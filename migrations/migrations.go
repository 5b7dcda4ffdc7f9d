// Package migrations embeds the SQL migrations, so the binary carries its schema and nothing is
// discovered from the source tree at run time.
package migrations

import "embed"

// FS holds the *.up.sql / *.down.sql files, applied in name order by bun/migrate.
//
//go:embed *.sql
var FS embed.FS
