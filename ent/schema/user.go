package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// User is an account. Users are never removed: deleting one through Ent
// deactivates it (SoftDeleteMixin).
type User struct{ ent.Schema }

// Mixin returns the shared fields and behaviour of User.
func (User) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{}, SoftDeleteMixin{}, TimeMixin{}}
}

// Fields returns the fields of User.
func (User) Fields() []ent.Field {
	return []ent.Field{
		field.String("username").
			MinLen(5).MaxLen(32).
			SchemaType(map[string]string{dialect.Postgres: "varchar(32)"}),
		field.Bytes("password_hash").
			Sensitive().
			SchemaType(map[string]string{dialect.Postgres: "bytea"}),
		// role is a native PostgreSQL enum. Ent describes it as a varchar
		// enum; the migration engine (internal/migrate) turns the SchemaType
		// into a CREATE TYPE, using the values listed here.
		field.Enum("role").
			Values("USER", "ADMIN", "SUPER_ADMIN").
			Default("USER").
			SchemaType(map[string]string{dialect.Postgres: "userrole"}).
			Annotations(entsql.Default("USER")),
		// credential_version grows by one with every committed change of
		// the password or of is_active. A login inserts its session only
		// while the version it verified against is still current (under a
		// share lock of the row), so no session made from a check that
		// predates such a change outlives it, even after a deactivation is
		// undone.
		field.Int64("credential_version").
			Default(0).
			Annotations(entsql.Default("0")),
		// display_name is optional: NULL until set, a nil *string in Ent's
		// node and in account.User, null in the API. Its length is
		// account.DisplayNameMaxLen in characters (Ent's MaxLen would count
		// bytes); TestDisplayNameColumnHoldsTheRule keeps the two equal.
		field.String("display_name").
			Optional().
			Nillable().
			SchemaType(map[string]string{dialect.Postgres: "varchar(64)"}),
	}
}

// Edges returns the edges of User.
func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("sessions", AuthSession.Type).
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes returns the indexes of User. ix_users_username serves exact
// lookups and sort=username; case-insensitive uniqueness comes from the
// expression index in ExpressionIndexes, which Ent cannot describe.
func (User) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("username").Unique().StorageKey("ix_users_username"),
		index.Fields("created_at", "id").StorageKey("ix_users_created_at_id"),
	}
}
