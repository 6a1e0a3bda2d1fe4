package migrate

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
	"entgo.io/ent/dialect"
	entschema "entgo.io/ent/dialect/sql/schema"
	"entgo.io/ent/schema/field"

	entmigrate "accounts/ent/migrate"
	appschema "accounts/ent/schema"
)

// DesiredState is the schema migrations/ must reach: the Ent tables plus
// what Ent cannot describe (native enum types, expression indexes).
type DesiredState struct {
	// Tables are Ent's table descriptions (ent/migrate.Tables).
	Tables []*entschema.Table
	// ExpressionIndexes are added to their tables.
	ExpressionIndexes []appschema.ExpressionIndex
}

// EntState is the desired state of this service: ent/migrate.Tables and
// ent/schema.ExpressionIndexes.
func EntState() DesiredState {
	return DesiredState{Tables: entmigrate.Tables, ExpressionIndexes: appschema.ExpressionIndexes}
}

// atlasSchema converts the desired state into an Atlas schema (not yet
// normalized). Every enum column whose SchemaType names a PostgreSQL type
// gets a native enum type, shared by name and added to the schema's
// objects, so the planner emits CREATE TYPE before the tables that use it
// and ALTER TYPE … ADD VALUE for new values. drv is what Ent asks for the
// server version: the dev database, or offlineServer when there is none.
func (d DesiredState) atlasSchema(ctx context.Context, drv dialect.Driver) (*schema.Schema, error) {
	m, err := entschema.NewMigrate(drv)
	if err != nil {
		return nil, fmt.Errorf("read the Ent schema: %w", err)
	}
	realm, err := m.StateReader(d.Tables...).ReadState(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the Ent schema: %w", err)
	}
	if len(realm.Schemas) != 1 {
		return nil, fmt.Errorf("the Ent schema spans %d database schemas; this engine migrates one", len(realm.Schemas))
	}
	s := realm.Schemas[0]
	ne := nativeEnums{s: s, types: map[string]*schema.EnumType{}, owner: map[string]string{}}
	for _, et := range d.Tables {
		if err := ne.table(et); err != nil {
			return nil, err
		}
	}
	if err := d.addExpressionIndexes(s); err != nil {
		return nil, err
	}
	return s, nil
}

// nativeEnums gives the enum columns of s whose SchemaType names a
// PostgreSQL type their native enum type, one per name.
type nativeEnums struct {
	s     *schema.Schema
	types map[string]*schema.EnumType
	owner map[string]string // the first column of each type, for errors
}

// table converts the enum columns of the Ent table et.
func (ne nativeEnums) table(et *entschema.Table) error {
	at, ok := ne.s.Table(et.Name)
	if !ok {
		return nil // a view
	}
	for _, ec := range et.Columns {
		if ec.Type != field.TypeEnum {
			continue
		}
		typeName := strings.ToLower(strings.TrimSpace(ec.SchemaType[dialect.Postgres]))
		if typeName == "" || strings.HasPrefix(typeName, "varchar") || strings.HasPrefix(typeName, "character") || typeName == "text" {
			continue // Ent's default: a varchar column
		}
		ac, ok := at.Column(ec.Name)
		if !ok {
			return fmt.Errorf("column %s.%s missing from Ent's state", et.Name, ec.Name)
		}
		if _, ok := ac.Type.Type.(*postgres.UserDefinedType); !ok {
			continue // SchemaType named a built-in type
		}
		e, err := ne.enumType(typeName, et.Name+"."+ec.Name, ec.Enums)
		if err != nil {
			return err
		}
		ac.Type.Type = e
	}
	return nil
}

// enumType returns the enum type name, added to the schema's objects the
// first time; every column of one type must list the same values.
func (ne nativeEnums) enumType(name, column string, values []string) (*schema.EnumType, error) {
	if len(values) == 0 {
		return nil, fmt.Errorf("column %s: enum type %s has no values", column, name)
	}
	e, ok := ne.types[name]
	if !ok {
		e = &schema.EnumType{T: name, Values: append([]string(nil), values...), Schema: ne.s}
		ne.types[name] = e
		ne.owner[name] = column
		ne.s.Objects = append(ne.s.Objects, e)
	} else if !slices.Equal(e.Values, values) {
		return nil, fmt.Errorf("enum type %s: column %s lists values %q but %s lists %q; one type has one list of values",
			name, column, values, ne.owner[name], e.Values)
	}
	return e, nil
}

// addExpressionIndexes adds the indexes Ent cannot declare to s.
func (d DesiredState) addExpressionIndexes(s *schema.Schema) error {
	for _, ei := range d.ExpressionIndexes {
		t, ok := s.Table(ei.Table)
		if !ok {
			return fmt.Errorf("expression index %s: table %s is not in the Ent schema", ei.Name, ei.Table)
		}
		if _, ok := t.Index(ei.Name); ok {
			return fmt.Errorf("expression index %s: table %s already has an index of that name", ei.Name, ei.Table)
		}
		t.AddIndexes(schema.NewIndex(ei.Name).SetUnique(ei.Unique).AddExprs(&schema.RawExpr{X: ei.Expr}))
	}
	return nil
}
