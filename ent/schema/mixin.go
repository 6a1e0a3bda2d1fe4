package schema

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
	"github.com/google/uuid"

	gen "accounts/ent"
)

// NewID returns a fresh UUIDv7. Version 7 ids start with a millisecond
// timestamp, so they sort by creation time and keep B-tree inserts local.
func NewID() uuid.UUID {
	// uuid.NewV7 fails only when the system's random source fails, and a
	// service that cannot read random bytes cannot issue tokens either.
	return uuid.Must(uuid.NewV7())
}

// IDMixin gives an entity a UUIDv7 primary key generated in Go.
type IDMixin struct{ mixin.Schema }

// Fields returns the id field.
func (IDMixin) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).Default(NewID).Immutable(),
	}
}

// CreatedAtMixin adds created_at, set once by the database (or by Ent on
// create) and never changed afterwards.
type CreatedAtMixin struct{ mixin.Schema }

// Fields returns the created_at field.
func (CreatedAtMixin) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").
			Default(time.Now).
			Immutable().
			SchemaType(map[string]string{dialect.Postgres: "timestamptz"}).
			Annotations(entsql.DefaultExpr("now()")),
	}
}

// TimeMixin adds created_at and updated_at; updated_at is set on every update
// made through Ent.
type TimeMixin struct{ mixin.Schema }

// Fields returns the created_at and updated_at fields.
func (TimeMixin) Fields() []ent.Field {
	return append(CreatedAtMixin{}.Fields(),
		field.Time("updated_at").
			Default(time.Now).
			UpdateDefault(time.Now).
			SchemaType(map[string]string{dialect.Postgres: "timestamptz"}).
			Annotations(entsql.DefaultExpr("now()")),
	)
}

// SoftDeleteMixin adds the is_active flag and turns every delete into an
// update that clears it, so rows are never removed through the client.
type SoftDeleteMixin struct{ mixin.Schema }

// Fields returns the is_active field.
func (SoftDeleteMixin) Fields() []ent.Field {
	return []ent.Field{
		field.Bool("is_active").
			Default(true).
			Annotations(entsql.Default("true")),
	}
}

// softDeleter is the part of a generated mutation that the soft-delete hook
// needs; every entity that uses SoftDeleteMixin has these methods.
type softDeleter interface {
	ent.Mutation
	SetOp(ent.Op)
	SetIsActive(bool)
	SetUpdatedAt(time.Time)
	Client() *gen.Client
}

// Hooks returns the hook that rewrites deletes into deactivation.
func (SoftDeleteMixin) Hooks() []ent.Hook {
	return []ent.Hook{
		func(next ent.Mutator) ent.Mutator {
			return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
				if !m.Op().Is(ent.OpDelete | ent.OpDeleteOne) {
					return next.Mutate(ctx, m)
				}
				mx, ok := m.(softDeleter)
				if !ok {
					return nil, fmt.Errorf("soft delete: unexpected mutation type %T", m)
				}
				// The rewritten mutation keeps the delete's predicates, so it
				// deactivates exactly the rows the delete would have removed.
				mx.SetOp(ent.OpUpdate)
				mx.SetIsActive(false)
				mx.SetUpdatedAt(time.Now())
				return mx.Client().Mutate(ctx, m)
			})
		},
	}
}
