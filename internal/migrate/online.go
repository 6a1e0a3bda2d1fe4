package migrate

import (
	"strings"

	"ariga.io/atlas/schemahcl"
	atlasmigrate "ariga.io/atlas/sql/migrate"
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

// txModeNoneDirective starts a migration file whose statements must run
// outside a transaction. Both `accounts migrate apply` and `atlas migrate
// apply` honour it; the blank line after it makes it a file directive
// rather than a statement's comment.
const txModeNoneDirective = "-- atlas:txmode none\n\n"

// concurrentStmt reports whether a statement may not run inside a
// transaction block: CREATE/DROP INDEX CONCURRENTLY (and REINDEX …
// CONCURRENTLY).
func concurrentStmt(stmt string) bool {
	return strings.Contains(strings.ToUpper(stmt), "CONCURRENTLY")
}

// onlineFormatter formats plans as the Atlas CLI does (DefaultFormatter) and
// adds `-- atlas:txmode none` to a file with a CONCURRENTLY statement, which
// the CLI does not: without it, its `migrate apply` runs the file in a
// transaction and PostgreSQL refuses the statement.
type onlineFormatter struct{}

func (onlineFormatter) Format(plan *atlasmigrate.Plan) ([]atlasmigrate.File, error) {
	files, err := atlasmigrate.DefaultFormatter.Format(plan)
	if err != nil || !planHasConcurrent(plan) {
		return files, err
	}
	for i, f := range files {
		files[i] = atlasmigrate.NewLocalFile(f.Name(), append([]byte(txModeNoneDirective), f.Bytes()...))
	}
	return files, nil
}

func planHasConcurrent(plan *atlasmigrate.Plan) bool {
	for _, c := range plan.Changes {
		if concurrentStmt(c.Cmd) {
			return true
		}
	}
	return false
}
