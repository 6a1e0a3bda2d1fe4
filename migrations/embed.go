// Package migrations embeds the versioned migration directory, so that the
// accounts binary can migrate a database with nothing beside it. Atlas reads
// only the *.sql files and atlas.sum here; this Go file is ignored by it.
package migrations

import "embed"

// FS holds the migration files and atlas.sum.
//
//go:embed *.sql atlas.sum
var FS embed.FS
