// Package ent holds the Ent client generated from the schema in ent/schema.
// Only ent/schema and this file are written by hand; run `go generate ./ent`
// after changing the schema.
package ent

//go:generate go tool ent generate --feature sql/versioned-migration,sql/modifier,sql/execquery,sql/upsert,sql/lock,intercept ./schema
