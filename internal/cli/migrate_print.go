package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"

	"accounts/internal/migrate"
)

// printDiff says what migrate diff wrote into dir, or that nothing was.
func printDiff(out io.Writer, dir string, res *migrate.DiffResult, advise func(string) string) error {
	p := &printer{w: out}
	if res.NoChanges() {
		p.f("No changes: migrations/ already matches the Ent schema; nothing written.\n")
		return p.err
	}
	p.f("Wrote %s/%s (%d statement(s)) and updated atlas.sum:\n\n%s\n", dir, res.File, res.Statements, res.SQL)
	for _, n := range res.Notes {
		p.f("Note: %s.\n\n", advise(n))
	}
	p.f("%s\n", advise("Review it, then `accounts migrate lint --latest 1` and commit it with atlas.sum."))
	return p.err
}

// printCheck says whether migrations/ matches the Ent schema; when it does
// not, it prints the migration diff would write and fails.
func printCheck(out io.Writer, res *migrate.DiffResult) error {
	p := &printer{w: out}
	if res.NoChanges() {
		p.f("OK: migrations/ matches the Ent schema.\n")
		return p.err
	}
	p.f("The Ent schema has changes that migrations/ lacks; this migration would be generated:\n\n%s\n", res.SQL)
	for _, n := range res.Notes {
		p.f("Note: %s.\n\n", n)
	}
	if p.err != nil {
		return p.err
	}
	return errors.New("migrations/ is behind the Ent schema: run `accounts migrate diff NAME` and commit the file")
}

// countArg parses the optional [N] argument.
func countArg(args []string) (int, error) {
	if len(args) == 0 {
		return 0, nil
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 {
		return 0, fmt.Errorf("the count N must be a positive number of files, got %q", args[0])
	}
	return n, nil
}

// parseAll parses each flag value with parse.
func parseAll[T any](values []string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, v := range values {
		r, err := parse(v)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// orNone names a version, or says there is none.
func orNone(v string) string {
	if v == "" {
		return "no version"
	}
	return "version " + v
}

// printDrift lists a drift report.
func printDrift(p *printer, rep *migrate.DriftReport) {
	if rep.Objects() == 0 {
		p.f("Drift:           none (the schema is what the files up to %s make)\n", orNone(rep.Version))
		return
	}
	p.f("Drift:           %d object(s) differ from what the files up to %s make\n", rep.Objects(), orNone(rep.Version))
	for _, l := range []struct {
		label string
		items []string
	}{{"extra (only in the database)", rep.Extra}, {"missing (the files make it)", rep.Missing}, {"changed", rep.Changed}} {
		for _, it := range l.items {
			p.f("  %s: %s\n", l.label, it)
		}
	}
}

// printStatus prints a status report.
func printStatus(p *printer, st *migrate.StatusReport) {
	state := "OK (up to date)"
	if !st.UpToDate() {
		state = "PENDING"
	}
	cur := st.Current
	if cur == "" {
		cur = "none"
	}
	head := st.Head
	if head == "" {
		head = "none (no migration files)"
	}
	p.f("Status:          %s\n", state)
	p.f("Current version: %s\n", cur)
	p.f("Head version:    %s\n", head)
	c := st.Counts
	p.f("Files:           %d (applied %d, failed %d, partial %d, pending %d)\n",
		c.Applied+c.Failed+c.Partial+c.Pending, c.Applied, c.Failed, c.Partial, c.Pending)
	if c.MissingFile > 0 {
		p.f("Applied, file missing: %d (%s): the directory no longer describes them\n", c.MissingFile, strings.Join(st.MissingFiles, ", "))
	}
	p.f("To apply:        %d\n", len(st.Pending))
	for _, f := range st.Pending {
		p.f("  - %s\n", f.Name())
	}
	for _, f := range st.OutOfOrder {
		p.f("  ! %s was added out of order (older than the applied history); rename it to a version after the history, then `accounts migrate hash`\n", f.Name())
	}
	if st.NotClean != "" {
		p.f("Note: the database has tables but no migration history (%s); apply needs --baseline VERSION.\n", st.NotClean)
	}
	if e := st.LastError; e != nil {
		p.f("Last error:      version %s (%s), statement %d of %d:\n  %s\n  %s\n",
			e.Version, e.Description, st.LastErrorStmt, e.Total, strings.TrimSpace(e.ErrorStmt), e.Error)
	}
}

// printHistory writes the history table, then the error of each failed
// file.
func printHistory(out io.Writer, h []migrate.HistoryEntry) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	p := &printer{w: tw}
	p.f("VERSION\tNAME\tSTATE\tAPPLIED AT\tTIME\tAPPLIED BY\n")
	for _, e := range h {
		at, took := "-", "-"
		if !e.ExecutedAt.IsZero() {
			at = e.ExecutedAt.UTC().Format(time.RFC3339)
			took = e.ExecutionTime.Round(time.Microsecond).String()
		}
		state := e.State
		if e.State == "failed" || e.State == "partial" {
			state = fmt.Sprintf("%s (%d/%d)", e.State, e.Applied, e.Total)
		}
		op := e.Operator
		if op == "" {
			op = "-"
		}
		p.f("%s\t%s\t%s\t%s\t%s\t%s\n", e.Version, e.Description, state, at, took, op)
	}
	if err := errors.Join(p.err, tw.Flush()); err != nil {
		return err
	}
	p = &printer{w: out}
	for _, e := range h {
		if e.Error != "" {
			p.f("\n%s failed at: %s\n  %s\n", e.Version, strings.TrimSpace(e.ErrorStmt), e.Error)
		}
	}
	return p.err
}

// printLint lints the directory and prints the findings; errors exit 1.
func printLint(ctx context.Context, out io.Writer, dir atlasmigrate.Dir, latest int, dev migrate.DevDatabase) error {
	rep, err := migrate.Lint(ctx, dir, migrate.LintOptions{Latest: latest, Dev: dev})
	if err != nil {
		return err
	}
	p := &printer{w: out}
	for _, f := range rep.Findings {
		p.f("%s\n", f.String())
		if f.Stmt > 0 {
			p.f("    %s\n", strings.Join(strings.Fields(f.SQL), " "))
		}
	}
	errs := rep.Errors()
	p.f("Linted %d file(s): %d error(s), %d warning(s).\n", len(rep.Files), errs, len(rep.Findings)-errs)
	if p.err != nil {
		return p.err
	}
	if errs > 0 {
		return fmt.Errorf("lint found %d error(s); fix them, or mark an intended change with `-- atlas:nolint CLASS` above the statement", errs)
	}
	return nil
}
