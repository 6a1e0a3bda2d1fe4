package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// AuthSession is one login. The row holds a SHA-256 of the session token,
// never the token, so a leaked table does not hand out live sessions.
type AuthSession struct{ ent.Schema }

// Mixin returns the shared fields of AuthSession.
func (AuthSession) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{}, CreatedAtMixin{}}
}

// Fields returns the fields of AuthSession.
func (AuthSession) Fields() []ent.Field {
	return []ent.Field{
		field.Bytes("token_hash").
			Sensitive().
			Immutable().
			Unique().
			SchemaType(map[string]string{dialect.Postgres: "bytea"}),
		field.UUID("user_id", uuid.UUID{}).Immutable(),
		field.Time("expires_at").
			SchemaType(map[string]string{dialect.Postgres: "timestamptz"}),
	}
}

// Edges returns the edges of AuthSession.
func (AuthSession) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).
			Ref("sessions").
			Field("user_id").
			Unique().
			Required().
			Immutable(),
	}
}

// Indexes returns the indexes of AuthSession: by user, to end all of a
// user's sessions at once, and by expiry, to purge old rows.
func (AuthSession) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("user_id").StorageKey("ix_auth_sessions_user_id"),
		index.Fields("expires_at").StorageKey("ix_auth_sessions_expires_at"),
	}
}
