package migrate

import (
	"strings"
	"testing"
)

// A hand-written file that adds an enum value and uses it in the same
// transaction never applies (55P04); lint says so and how to fix it.
func TestLintEnumValueAddedAndUsedInOneTransaction(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir := fixtureDir(t, "base")
	addFile(t, dir, "20000101000001_c.sql", "ALTER TYPE \"kind\" ADD VALUE 'C';\nALTER TABLE \"items\" ALTER COLUMN \"kind\" SET DEFAULT 'C';\n")
	rep, err := Lint(ctx, dir, LintOptions{Latest: 1, Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range rep.Findings {
		if f.Stmt == 2 && f.Class == ClassTxMode && f.Severity == SeverityError && strings.Contains(f.Message, "'C'") && strings.Contains(f.Message, "separate file") {
			found = true
		}
	}
	if !found {
		t.Errorf("lint findings %v", rep.Findings)
	}
	// The same statements in a txmode none file apply; nothing to report.
	dir = fixtureDir(t, "base")
	addFile(t, dir, "20000101000001_c.sql", "-- atlas:txmode none\n\nALTER TYPE \"kind\" ADD VALUE 'C';\nALTER TABLE \"items\" ALTER COLUMN \"kind\" SET DEFAULT 'C';\n")
	rep, err = Lint(ctx, dir, LintOptions{Latest: 1, Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if f.Class == ClassTxMode {
			t.Errorf("txmode none file: %v", f)
		}
	}
}
