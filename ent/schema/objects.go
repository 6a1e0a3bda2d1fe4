package schema

// ExpressionIndex is an index over an SQL expression. Ent's schema language
// cannot describe one, so the migration engine adds these to the desired
// state it diffs against migrations/.
type ExpressionIndex struct {
	// Table is the table the index belongs to.
	Table string
	// Name is the index name.
	Name string
	// Expr is the indexed expression, written as PostgreSQL prints it back
	// (pg_get_indexdef), so that an unchanged index diffs clean.
	Expr string
	// Unique makes the index enforce uniqueness of Expr.
	Unique bool
}

// ExpressionIndexes lists the expression indexes of the schema.
// ux_users_username_lower makes usernames unique without regard to case, in
// the database, so concurrent sign-ups of "Alice" and "alice" cannot both win.
var ExpressionIndexes = []ExpressionIndex{
	{Table: "users", Name: "ux_users_username_lower", Expr: "lower((username)::text)", Unique: true},
}
