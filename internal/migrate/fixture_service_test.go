package migrate

import (
	entschema "entgo.io/ent/dialect/sql/schema"
	"entgo.io/ent/schema/field"

	appschema "accounts/ent/schema"
)

// The engine tests that need a realistic history run on a snapshot of the
// service's, not on the service itself: testdata/service holds the
// service's migration files as they were at issue 24, frozen, and the
// tables below are the Ent tables those files build (a copy of
// ent/migrate.Tables at that point), with svcExpressionIndexes for what
// Ent cannot describe. Neither follows ent/schema or migrations/, so a
// change of the service's schema breaks no engine test; the service's own
// files are checked by `accounts migrate check` (CI) and the end-to-end
// suite. Change this snapshot only together with testdata/service.

// serviceState is the desired state of the snapshot, with fresh tables.
func serviceState() DesiredState {
	return DesiredState{Tables: entTables(), ExpressionIndexes: svcExpressionIndexes}
}

// svcExpressionIndexes is ent/schema.ExpressionIndexes of the snapshot.
var svcExpressionIndexes = []appschema.ExpressionIndex{
	{Table: "users", Name: "ux_users_username_lower", Expr: "lower((username)::text)", Unique: true},
}

var (
	// svcAuditEventsColumns holds the columns for the "audit_events" table.
	svcAuditEventsColumns = []*entschema.Column{
		{Name: "id", Type: field.TypeUUID},
		{Name: "occurred_at", Type: field.TypeTime, Default: entschema.Expr("now()"), SchemaType: map[string]string{"postgres": "timestamptz"}},
		{Name: "action", Type: field.TypeString, Size: 40, SchemaType: map[string]string{"postgres": "varchar(40)"}},
		{Name: "actor_id", Type: field.TypeUUID, Nullable: true},
		{Name: "actor_name", Type: field.TypeString, Size: 160, SchemaType: map[string]string{"postgres": "varchar(160)"}},
		{Name: "target_id", Type: field.TypeUUID, Nullable: true},
		{Name: "target_name", Type: field.TypeString, Size: 32, SchemaType: map[string]string{"postgres": "varchar(32)"}},
		{Name: "request_id", Type: field.TypeString, Size: 128, Default: "", SchemaType: map[string]string{"postgres": "varchar(128)"}},
		{Name: "client_address", Type: field.TypeString, Size: 64, Default: "", SchemaType: map[string]string{"postgres": "varchar(64)"}},
		{Name: "details", Type: field.TypeJSON, Nullable: true},
	}
	// svcAuditEventsTable holds the schema information for the "audit_events" table.
	svcAuditEventsTable = &entschema.Table{
		Name:       "audit_events",
		Columns:    svcAuditEventsColumns,
		PrimaryKey: []*entschema.Column{svcAuditEventsColumns[0]},
		Indexes: []*entschema.Index{
			{
				Name:    "ix_audit_events_occurred_at_id",
				Unique:  false,
				Columns: []*entschema.Column{svcAuditEventsColumns[1], svcAuditEventsColumns[0]},
			},
			{
				Name:    "ix_audit_events_actor_id",
				Unique:  false,
				Columns: []*entschema.Column{svcAuditEventsColumns[3], svcAuditEventsColumns[1]},
			},
			{
				Name:    "ix_audit_events_target_id",
				Unique:  false,
				Columns: []*entschema.Column{svcAuditEventsColumns[5], svcAuditEventsColumns[1]},
			},
		},
	}
	// svcAuthSessionsColumns holds the columns for the "auth_sessions" table.
	svcAuthSessionsColumns = []*entschema.Column{
		{Name: "id", Type: field.TypeUUID},
		{Name: "created_at", Type: field.TypeTime, Default: entschema.Expr("now()"), SchemaType: map[string]string{"postgres": "timestamptz"}},
		{Name: "token_hash", Type: field.TypeBytes, Unique: true, SchemaType: map[string]string{"postgres": "bytea"}},
		{Name: "expires_at", Type: field.TypeTime, SchemaType: map[string]string{"postgres": "timestamptz"}},
		{Name: "user_id", Type: field.TypeUUID},
	}
	// svcAuthSessionsTable holds the schema information for the "auth_sessions" table.
	svcAuthSessionsTable = &entschema.Table{
		Name:       "auth_sessions",
		Columns:    svcAuthSessionsColumns,
		PrimaryKey: []*entschema.Column{svcAuthSessionsColumns[0]},
		ForeignKeys: []*entschema.ForeignKey{
			{
				Symbol:     "auth_sessions_users_sessions",
				Columns:    []*entschema.Column{svcAuthSessionsColumns[4]},
				RefColumns: []*entschema.Column{svcUsersColumns[0]},
				OnDelete:   entschema.Cascade,
			},
		},
		Indexes: []*entschema.Index{
			{
				Name:    "ix_auth_sessions_user_id",
				Unique:  false,
				Columns: []*entschema.Column{svcAuthSessionsColumns[4]},
			},
			{
				Name:    "ix_auth_sessions_expires_at",
				Unique:  false,
				Columns: []*entschema.Column{svcAuthSessionsColumns[3]},
			},
		},
	}
	// svcThrottleCountersColumns holds the columns for the "throttle_counters" table.
	svcThrottleCountersColumns = []*entschema.Column{
		{Name: "id", Type: field.TypeString, Size: 64, SchemaType: map[string]string{"postgres": "varchar(64)"}},
		{Name: "window_start", Type: field.TypeTime, SchemaType: map[string]string{"postgres": "timestamptz"}},
		{Name: "hits", Type: field.TypeInt},
	}
	// svcThrottleCountersTable holds the schema information for the "throttle_counters" table.
	svcThrottleCountersTable = &entschema.Table{
		Name:       "throttle_counters",
		Columns:    svcThrottleCountersColumns,
		PrimaryKey: []*entschema.Column{svcThrottleCountersColumns[0]},
		Indexes: []*entschema.Index{
			{
				Name:    "ix_throttle_counters_window_start",
				Unique:  false,
				Columns: []*entschema.Column{svcThrottleCountersColumns[1]},
			},
		},
	}
	// svcUsersColumns holds the columns for the "users" table.
	svcUsersColumns = []*entschema.Column{
		{Name: "id", Type: field.TypeUUID},
		{Name: "is_active", Type: field.TypeBool, Default: "true"},
		{Name: "created_at", Type: field.TypeTime, Default: entschema.Expr("now()"), SchemaType: map[string]string{"postgres": "timestamptz"}},
		{Name: "updated_at", Type: field.TypeTime, Default: entschema.Expr("now()"), SchemaType: map[string]string{"postgres": "timestamptz"}},
		{Name: "username", Type: field.TypeString, Size: 32, SchemaType: map[string]string{"postgres": "varchar(32)"}},
		{Name: "password_hash", Type: field.TypeBytes, SchemaType: map[string]string{"postgres": "bytea"}},
		{Name: "role", Type: field.TypeEnum, Enums: []string{"USER", "ADMIN", "SUPER_ADMIN"}, Default: "USER", SchemaType: map[string]string{"postgres": "userrole"}},
		{Name: "credential_version", Type: field.TypeInt64, Default: "0"},
	}
	// svcUsersTable holds the schema information for the "users" table.
	svcUsersTable = &entschema.Table{
		Name:       "users",
		Columns:    svcUsersColumns,
		PrimaryKey: []*entschema.Column{svcUsersColumns[0]},
		Indexes: []*entschema.Index{
			{
				Name:    "ix_users_username",
				Unique:  true,
				Columns: []*entschema.Column{svcUsersColumns[4]},
			},
			{
				Name:    "ix_users_created_at_id",
				Unique:  false,
				Columns: []*entschema.Column{svcUsersColumns[2], svcUsersColumns[0]},
			},
		},
	}
	// svcTables holds all the tables of the snapshot.
	svcTables = []*entschema.Table{
		svcAuditEventsTable,
		svcAuthSessionsTable,
		svcThrottleCountersTable,
		svcUsersTable,
	}
)

func init() {
	svcAuthSessionsTable.ForeignKeys[0].RefTable = svcUsersTable
}
