package migrate

import (
	"strings"

	"ariga.io/atlas/schemahcl"
	"ariga.io/atlas/sql/schema"
)

// onlineDiffPolicy is the diff policy of atlas.hcl's env "local",
//
//	diff { concurrent_index { create = true  drop = true } }
//
// in the form the Atlas CLI hands it to the library: indexes on tables that
// exist before the migration are created and dropped CONCURRENTLY, so the
// build takes no lock that blocks writes. (Indexes of a table the same file
// creates are built plainly: the table is empty and nobody uses it yet.)
func onlineDiffPolicy() schema.DiffOption {
	return func(o *schema.DiffOptions) {
		o.Extra = schemahcl.DefaultExtension{Extra: schemahcl.Resource{
			Children: []*schemahcl.Resource{{
				Type: "concurrent_index",
				Attrs: []*schemahcl.Attr{
					schemahcl.BoolAttr("create", true),
					schemahcl.BoolAttr("drop", true),
				},
			}},
		}}
	}
}

// concurrentStmt reports whether a statement may not run inside a
// transaction block: CREATE/DROP INDEX CONCURRENTLY (and REINDEX …
// CONCURRENTLY).
func concurrentStmt(stmt string) bool {
	return strings.Contains(strings.ToUpper(stmt), "CONCURRENTLY")
}
