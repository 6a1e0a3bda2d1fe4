package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/entsql"
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
		// last_used_at is when a request last presented the session, to the
		// resolution of SessionTouchInterval: a read writes it at most that
		// often, not on every request.
		field.Time("last_used_at").
			Default(time.Now).
			SchemaType(map[string]string{dialect.Postgres: "timestamptz"}).
			Annotations(entsql.DefaultExpr("now()")),
		// user_agent is the User-Agent of the login, cut to a short label
		// for the list of sessions.
		field.String("user_agent").
			Default("").
			MaxLen(SessionUserAgentMaxLen).
			Immutable().
			Annotations(entsql.Default("")),
	}
}

// SessionUserAgentMaxLen is the most bytes of a login's User-Agent a
// session keeps.
const SessionUserAgentMaxLen = 64

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
