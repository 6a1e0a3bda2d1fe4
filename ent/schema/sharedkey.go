package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/schema/field"
)

// SharedKey is a secret every replica of the service must agree on and
// that the configuration does not give: drawn once at random by the first
// replica that needs it and read by every other, so N replicas started
// from one configuration key device tokens and throttle buckets alike.
// The id names what the key is for. Rows are only ever inserted.
type SharedKey struct{ ent.Schema }

// Mixin returns the shared fields of SharedKey.
func (SharedKey) Mixin() []ent.Mixin {
	return []ent.Mixin{CreatedAtMixin{}}
}

// Fields returns the fields of SharedKey.
func (SharedKey) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").
			NotEmpty().
			MaxLen(64).
			Immutable().
			SchemaType(map[string]string{dialect.Postgres: "varchar(64)"}),
		field.Bytes("key").
			NotEmpty().
			Immutable().
			Sensitive(),
	}
}
