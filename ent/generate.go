// Package ent holds the Ent client generated from the schema in ent/schema.
// Only ent/schema and this file are written by hand; run `go generate ./ent`
// after changing the schema. It also writes schema.sql, the desired database
// schema as SQL, which atlas.hcl gives the Atlas CLI.
package ent

//go:generate go tool ent generate --feature sql/versioned-migration,sql/modifier,sql/execquery,sql/upsert,sql/lock,intercept ./schema
//go:generate go run ../internal/migrate/schemasql -o schema.sql
