package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// IdempotencyKey is the first answer to a create sent with an
// Idempotency-Key header, kept so that a retry with the same key and body
// gets that answer again instead of a second create. The row is written in
// the transaction of the create, so an answer is stored exactly when the
// create committed.
type IdempotencyKey struct{ ent.Schema }

// Mixin returns the shared fields of IdempotencyKey.
func (IdempotencyKey) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{}, CreatedAtMixin{}}
}

// Fields returns the fields of IdempotencyKey. scope is the caller the key
// belongs to (keys are per caller); fingerprint a keyed hash of the
// operation and its body, never the body, which holds a password.
func (IdempotencyKey) Fields() []ent.Field {
	return []ent.Field{
		field.String("scope").
			NotEmpty().
			MaxLen(80).
			Immutable(),
		field.String("key").
			NotEmpty().
			MaxLen(255).
			Immutable(),
		field.Bytes("fingerprint").
			SchemaType(map[string]string{dialect.Postgres: "bytea"}),
		field.Int("status"),
		field.JSON("header", map[string]string{}),
		field.Bytes("body").
			SchemaType(map[string]string{dialect.Postgres: "bytea"}),
		field.Time("expires_at").
			SchemaType(map[string]string{dialect.Postgres: "timestamptz"}),
	}
}

// Indexes returns the indexes of IdempotencyKey: one key per caller, and
// by expiry, to purge old answers.
func (IdempotencyKey) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("scope", "key").Unique().StorageKey("ux_idempotency_keys_scope_key"),
		index.Fields("expires_at").StorageKey("ix_idempotency_keys_expires_at"),
	}
}
