package migrate

import (
	"strings"
	"testing"
)

// A hand-written file whose version is older than the applied head (a
// merge, a copied name) is refused with what to do with it: give it a
// version after the head (the new name is given) and re-hash; `migrate
// diff` would write a different file, not move this one.
func TestApplyOutOfOrderFileSaysHowToRename(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir := serviceDir(t)
	db, _ := newDB(t)
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	names := fileNames(t, dir)
	old := strings.SplitN(names[len(names)-2], "_", 2)[0]
	addFile(t, dir, old+"5_backfill.sql", "UPDATE users SET is_active = true WHERE false;\n")
	_, err := Apply(ctx, db, dir, ApplyOptions{})
	if err == nil || strings.Contains(err.Error(), "migrate diff") ||
		!strings.Contains(err.Error(), old+"5_backfill.sql → ") || !strings.Contains(err.Error(), "`accounts migrate hash`") {
		t.Fatalf("apply of an out-of-order hand-written file: %v", err)
	}
}
