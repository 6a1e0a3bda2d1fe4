package migrate

import (
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"text/template"

	atlasmigrate "ariga.io/atlas/sql/migrate"
)

// diffTemplate is the content template of a migration file that `migrate
// diff` writes. atlas.hcl hands the same file to the Atlas CLI (env
// "local": format { migrate { diff = file("internal/migrate/diff.tmpl") } }),
// so both tools write byte-identical files, with `-- atlas:txmode none`
// where a file cannot run in a transaction.
//
//go:embed diff.tmpl
var diffTemplate string

// diffFormatter is the formatter both tools build from diffTemplate: the
// library's default file name, and diffTemplate as content.
var diffFormatter = mustDiffFormatter(diffTemplate)

// parseDiffTemplate parses a content template the way the Atlas CLI parses
// a `migrate diff` format: with text/template's builtins only (the CLI
// defines a placeholder "sql" that fails when run, to tell an indentation
// format from a content template).
func parseDiffTemplate(text string) (atlasmigrate.TemplateFormatter, error) {
	t, err := template.New("format").
		Funcs(template.FuncMap{"sql": func(...any) (string, error) { return "", errors.New("sql can only indent") }}).
		Parse(text)
	if err != nil {
		return nil, fmt.Errorf("parse the migrate diff format: %w", err)
	}
	return atlasmigrate.TemplateFormatter{{N: atlasmigrate.DefaultFormatter[0].N, C: t}}, nil
}

func mustDiffFormatter(text string) atlasmigrate.TemplateFormatter {
	f, err := parseDiffTemplate(text)
	if err != nil {
		panic(err)
	}
	return f
}

// formatPlan renders plan as the one migration file diff writes, and says
// whether that file runs statement by statement (`-- atlas:txmode none`).
func formatPlan(plan *atlasmigrate.Plan) (atlasmigrate.File, bool, error) {
	f, err := diffFormatter.FormatFile(plan)
	if err != nil {
		return nil, false, fmt.Errorf("format the migration file: %w", err)
	}
	lf := atlasmigrate.NewLocalFile(f.Name(), f.Bytes())
	return lf, slices.Contains(fileDirectives(lf, "txmode"), string(TxModeNone)), nil
}
