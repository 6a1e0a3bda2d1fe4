package schema

import (
	"context"
	"errors"
	"time"

	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// AuditEvent is one change to an account: who made it (a user, or the
// operator of the command line), what it was, to whom, when, and from
// which request. Rows are written in the transaction of the change they
// record and are never changed afterwards: the hook below refuses every
// update, and every delete but the retention purge's.
type AuditEvent struct{ ent.Schema }

// Mixin returns the shared fields of AuditEvent.
func (AuditEvent) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{}}
}

// Fields returns the fields of AuditEvent. None of them ever holds a
// password, a hash or a token.
func (AuditEvent) Fields() []ent.Field {
	return []ent.Field{
		field.Time("occurred_at").
			Default(time.Now).
			Immutable().
			SchemaType(map[string]string{dialect.Postgres: "timestamptz"}).
			Annotations(entsql.DefaultExpr("now()")),
		field.String("action").
			NotEmpty().MaxLen(40).Immutable().
			SchemaType(map[string]string{dialect.Postgres: "varchar(40)"}),
		// actor_id is the acting user; empty for the command line, whose
		// operator (OS user@host) is in actor_name.
		field.UUID("actor_id", uuid.UUID{}).Optional().Nillable().Immutable(),
		field.String("actor_name").
			MaxLen(160).Immutable().
			SchemaType(map[string]string{dialect.Postgres: "varchar(160)"}),
		field.UUID("target_id", uuid.UUID{}).Optional().Nillable().Immutable(),
		field.String("target_name").
			MaxLen(32).Immutable().
			SchemaType(map[string]string{dialect.Postgres: "varchar(32)"}),
		field.String("request_id").
			MaxLen(128).Immutable().Default("").
			SchemaType(map[string]string{dialect.Postgres: "varchar(128)"}).
			Annotations(entsql.Default("")),
		field.String("client_address").
			MaxLen(64).Immutable().Default("").
			SchemaType(map[string]string{dialect.Postgres: "varchar(64)"}).
			Annotations(entsql.Default("")),
		// details says what changed (a role from and to, how many
		// sessions ended), as short words and numbers, each in its JSON
		// type. Rows written before hold every value as a string.
		field.JSON("details", map[string]any{}).Optional().Immutable(),
	}
}

// Indexes returns the indexes of AuditEvent: by time (paging, time ranges
// and the retention purge) and by each other filter of /audit (actor,
// target, action), each with the time and id it pages by, newest first.
func (AuditEvent) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("occurred_at", "id").StorageKey("ix_audit_events_occurred_at_id"),
		index.Fields("actor_id", "occurred_at").StorageKey("ix_audit_events_actor_id"),
		index.Fields("target_id", "occurred_at").StorageKey("ix_audit_events_target_id"),
		index.Fields("action", "occurred_at", "id").StorageKey("ix_audit_events_action"),
	}
}

// ErrAuditAppendOnly is the error of an update or delete of audit events
// through the client outside the retention purge.
var ErrAuditAppendOnly = errors.New("audit events are append-only")

type auditPurgeKey struct{}

// AuditPurgeContext marks ctx as the retention purge's: the one caller
// allowed to delete audit events (those past the retention period).
func AuditPurgeContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, auditPurgeKey{}, true)
}

// Hooks returns the hook that keeps the table append-only through the
// client.
func (AuditEvent) Hooks() []ent.Hook {
	return []ent.Hook{
		func(next ent.Mutator) ent.Mutator {
			return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
				switch {
				case m.Op().Is(ent.OpCreate):
				case m.Op().Is(ent.OpDelete) && ctx.Value(auditPurgeKey{}) == true:
				default:
					return nil, ErrAuditAppendOnly
				}
				return next.Mutate(ctx, m)
			})
		},
	}
}
