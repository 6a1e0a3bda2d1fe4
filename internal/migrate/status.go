package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
)

// StatusReport is where a database stands against a migration directory.
type StatusReport struct {
	Current   string              // version the database is at ("" for none)
	Head      string              // newest version in the directory
	Applied   int                 // revisions recorded (any state); see Counts
	Pending   []atlasmigrate.File // files apply would run, in order (a failed one again)
	LastError *atlasmigrate.Revision
	// LastErrorStmt is the 1-based position of LastError's failed statement
	// in its file, as apply reported it (the revision row of a rolled-back
	// file says 0 statements applied).
	LastErrorStmt int
	// Counts classifies every file and revision once.
	Counts StatusCounts
	// MissingFiles are versions recorded as applied whose file is not in
	// the directory.
	MissingFiles []string
	// NotClean is set when the database has tables but no migration
	// history: apply refuses it without --baseline.
	NotClean string
	// OutOfOrder lists files older than the newest applied version that
	// were never applied; apply refuses them.
	OutOfOrder []atlasmigrate.File
}

// StatusCounts classifies the directory's files by their revision
// (Applied + Failed + Partial + Pending is the number of files) and counts
// the revisions whose file is gone.
type StatusCounts struct {
	Applied     int // fully applied, or a baseline
	Failed      int // the last attempt failed
	Partial     int // some statements applied, no error recorded (interrupted)
	Pending     int // never attempted
	MissingFile int // a revision without its file in the directory
}

// UpToDate reports whether nothing is pending.
func (s *StatusReport) UpToDate() bool {
	return len(s.Pending) == 0 && len(s.OutOfOrder) == 0 && s.NotClean == "" && s.LastError == nil
}

// Status reads where db stands against dir (`migrate status`). It changes
// nothing. revisionSchema is RevisionSchema when empty.
func Status(ctx context.Context, db *sql.DB, dir atlasmigrate.Dir, revisionSchema string) (*StatusReport, error) {
	if err := Validate(dir); err != nil {
		return nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to the database: %w", err)
	}
	defer func() { _ = conn.Close() }() // read only: it just goes back to the pool
	revs := NewRevisionTable(conn, revisionSchema)
	all, err := revs.ReadRevisions(ctx)
	if err != nil {
		return nil, err
	}
	st := &StatusReport{Current: currentVersion(all), Applied: len(all)}
	if st.Head, err = Head(dir); err != nil {
		return nil, err
	}
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Error != "" {
			st.LastError = all[i]
			break
		}
	}
	drv, err := postgres.Open(conn)
	if err != nil {
		return nil, err
	}
	if err := countStatus(st, drv, dir, all); err != nil {
		return nil, err
	}
	ex, err := atlasmigrate.NewExecutor(drv, dir, readOnlyRevisions{revs})
	if err != nil {
		return nil, err
	}
	pending, err := ex.Pending(ctx)
	var (
		notClean  *atlasmigrate.NotCleanError
		nonLinear *atlasmigrate.HistoryNonLinearError
	)
	switch {
	case err == nil:
		st.Pending = pending
	case errors.Is(err, atlasmigrate.ErrNoPendingFiles):
	case errors.As(err, &notClean):
		st.NotClean = notClean.Reason
		st.Pending, err = dir.Files()
		if err != nil {
			return nil, err
		}
	case errors.As(err, &nonLinear):
		st.OutOfOrder, st.Pending = nonLinear.OutOfOrder, nonLinear.Pending
	default:
		return nil, explainPending(err, "", dir)
	}
	return st, nil
}

// countStatus fills st's Counts, MissingFiles and LastErrorStmt.
func countStatus(st *StatusReport, drv atlasmigrate.Driver, dir atlasmigrate.Dir, revs []*atlasmigrate.Revision) error {
	files, err := dir.Files()
	if err != nil {
		return err
	}
	byVersion := make(map[string]*atlasmigrate.Revision, len(revs))
	for _, r := range revs {
		byVersion[r.Version] = r
	}
	for _, f := range files {
		r, ok := byVersion[f.Version()]
		delete(byVersion, f.Version())
		if !ok {
			st.Counts.Pending++
			continue
		}
		var e HistoryEntry
		fillFromRevision(&e, r)
		switch e.State {
		case "failed":
			st.Counts.Failed++
		case "partial":
			st.Counts.Partial++
		default:
			st.Counts.Applied++
		}
		if st.LastError != nil && st.LastError.Version == f.Version() {
			st.LastErrorStmt = failedStmtIndex(drv, f, r)
		}
	}
	for _, r := range revs {
		if _, ok := byVersion[r.Version]; ok {
			st.Counts.MissingFile++
			st.MissingFiles = append(st.MissingFiles, r.Version)
		}
	}
	if st.LastError != nil && st.LastErrorStmt == 0 {
		st.LastErrorStmt = st.LastError.Applied + 1
	}
	return nil
}

// failedStmtIndex finds the failed statement of r in its file: the
// revision of a rolled-back file records 0 applied statements whatever
// statement failed.
func failedStmtIndex(drv atlasmigrate.Driver, f atlasmigrate.File, r *atlasmigrate.Revision) int {
	stmts, err := atlasmigrate.FileStmtDecls(drv, f)
	if err == nil {
		for i, s := range stmts[min(r.Applied, len(stmts)):] {
			if strings.TrimSpace(s.Text) == strings.TrimSpace(r.ErrorStmt) {
				return r.Applied + i + 1
			}
		}
	}
	return r.Applied + 1
}

// HistoryEntry is one migration file or revision in `migrate history`.
type HistoryEntry struct {
	Version       string
	Description   string
	File          string // file name; "" when the file is missing from the directory
	State         string // applied, baseline, pending, failed, partial, missing file
	Applied       int    // statements applied
	Total         int    // statements in the file
	ExecutedAt    time.Time
	ExecutionTime time.Duration
	Operator      string // who applied it (operator_version)
	Error         string
	ErrorStmt     string
}

// History lists every file of dir and every revision of db, in version
// order, with who applied what and when (`migrate history`).
func History(ctx context.Context, db *sql.DB, dir atlasmigrate.Dir, revisionSchema string) ([]HistoryEntry, error) {
	files, err := dir.Files()
	if err != nil {
		return nil, err
	}
	revs, err := NewRevisionTable(db, revisionSchema).ReadRevisions(ctx)
	if err != nil {
		return nil, err
	}
	byVersion := make(map[string]*atlasmigrate.Revision, len(revs))
	for _, r := range revs {
		byVersion[r.Version] = r
	}
	var out []HistoryEntry
	seen := make(map[string]bool)
	add := func(e HistoryEntry) {
		seen[e.Version] = true
		out = append(out, e)
	}
	for _, f := range files {
		e := HistoryEntry{Version: f.Version(), Description: f.Desc(), File: f.Name(), State: "pending"}
		if r, ok := byVersion[f.Version()]; ok {
			fillFromRevision(&e, r)
		}
		add(e)
	}
	for _, r := range revs {
		if seen[r.Version] {
			continue
		}
		e := HistoryEntry{Version: r.Version, Description: r.Description}
		fillFromRevision(&e, r)
		if e.State == "applied" {
			e.State = "applied, file missing"
		}
		add(e)
	}
	slices.SortStableFunc(out, func(a, b HistoryEntry) int { return strings.Compare(a.Version, b.Version) })
	return out, nil
}

func fillFromRevision(e *HistoryEntry, r *atlasmigrate.Revision) {
	e.Applied, e.Total = r.Applied, r.Total
	e.ExecutedAt, e.ExecutionTime = r.ExecutedAt, r.ExecutionTime
	e.Operator, e.Error, e.ErrorStmt = r.OperatorVersion, r.Error, r.ErrorStmt
	switch {
	case r.Type.Has(atlasmigrate.RevisionTypeBaseline):
		e.State = "baseline"
	case r.Error != "":
		e.State = "failed"
	case r.Applied < r.Total:
		e.State = "partial"
	default:
		e.State = "applied"
	}
}
