package pgcluster

import (
	"path/filepath"
	"testing"
	"time"

	"accounts/internal/database"
)

// TestStandbyPromote builds a streaming standby with StartStandby, checks
// that it replays the primary's writes and refuses its own, crashes the
// primary, promotes the standby, and writes to it. StartStandby refuses a
// data directory that is not empty.
func TestStandbyPromote(t *testing.T) {
	requireBinaries(t)
	t.Parallel()
	ctx := t.Context()
	base := reachableDir(t)
	primary, err := Start(ctx, Options{DataDir: filepath.Join(base, "primary"), Logger: testLogger(t), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	stopOnCleanup(t, primary)
	standby, err := primary.StartStandby(ctx, Options{DataDir: filepath.Join(base, "standby"), Logger: testLogger(t), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	stopOnCleanup(t, standby)
	if standby.Port() == primary.Port() {
		t.Fatalf("the standby listens on the primary's port %d", primary.Port())
	}
	if _, err := primary.StartStandby(ctx, Options{DataDir: standby.DataDir()}); err == nil {
		t.Error("StartStandby into a data directory in use did not fail")
	}

	p := connect(t, primary.URL("postgres"))
	if _, err := p.Exec(ctx, "CREATE TABLE t (id int); INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	s := connect(t, standby.URL("postgres"))
	var n int
	for deadline := time.Now().Add(30 * time.Second); ; {
		err := s.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n)
		if err == nil && n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the standby did not replay the primary's row: %d rows, %v", n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := s.Exec(ctx, "INSERT INTO t VALUES (2)"); err == nil {
		t.Error("the standby accepted a write before its promotion")
	}

	if err := primary.Crash(ctx); err != nil {
		t.Fatal(err)
	}
	if err := database.Ping(ctx, primary.URL("postgres"), time.Second); err == nil {
		t.Error("the primary still answers after Crash")
	}
	if err := standby.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Exec(ctx, "INSERT INTO t VALUES (2)"); err != nil {
		t.Fatalf("write to the promoted standby: %v", err)
	}
}
