package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// ThrottleCounter counts the attempts of one throttle key (a user, a
// bucket of client addresses or of device cookies) within its current
// window. The counters live in the database so that every replica of the
// service draws on one budget.
type ThrottleCounter struct{ ent.Schema }

// Fields returns the fields of ThrottleCounter. The id is the key itself,
// short by construction (internal/throttle), so the table's size is bounded
// by the number of keys, not by what clients send.
func (ThrottleCounter) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").
			NotEmpty().
			MaxLen(64).
			Immutable().
			SchemaType(map[string]string{dialect.Postgres: "varchar(64)"}),
		field.Time("window_start").
			SchemaType(map[string]string{dialect.Postgres: "timestamptz"}),
		field.Int("hits"),
	}
}

// Indexes returns the indexes of ThrottleCounter: by window start, to purge
// counters whose window has passed.
func (ThrottleCounter) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("window_start").StorageKey("ix_throttle_counters_window_start"),
	}
}
