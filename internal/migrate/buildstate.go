package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	atlasmigrate "ariga.io/atlas/sql/migrate"
)

// BuildFiles are the migration files one build of the service uses, read
// once: what readiness compares the database with.
type BuildFiles struct {
	files []atlasmigrate.File
	head  string
}

// NewBuildFiles reads dir's files.
func NewBuildFiles(dir atlasmigrate.Dir) (*BuildFiles, error) {
	files, err := dir.Files()
	if err != nil {
		return nil, err
	}
	b := &BuildFiles{files: files}
	if len(files) > 0 {
		b.head = files[len(files)-1].Version()
	}
	return b, nil
}

// Head returns the version of the build's last file ("" for none).
func (b *BuildFiles) Head() string { return b.head }

// BuildState is where a database stands against the files of one build.
// During a rolling deploy the database is normally ahead of the old
// release (the new one applied its files), which is no reason for the old
// release to stop serving; only a file of the build that is not applied is.
type BuildState struct {
	// Current is the newest version applied to the database ("" for none).
	Current string
	// Lacking lists the build's files that are not applied, each with why:
	// "20260101000000_x.sql (not applied)", "(failed at statement 2 of 3)",
	// "(partially applied: 1 of 3 statements)".
	Lacking []string
	// Newer lists the revisions newer than the build's last file, as
	// VERSION_DESCRIPTION, with the same notes when not fully applied.
	Newer []string
}

// Ready returns nil when every file of the build is applied, otherwise an
// error naming the files that are not. It names files and states only,
// never a recorded error's text, because /readyz shows it to anyone.
func (s *BuildState) Ready() error {
	if len(s.Lacking) == 0 {
		return nil
	}
	return fmt.Errorf("the database lacks %s of this build: %s", plural(len(s.Lacking), "migration"), listSome(s.Lacking))
}

// Ahead describes the revisions newer than the build, or "" when there are
// none: "database has 1 migration newer than this build: 2026…_add_x".
func (s *BuildState) Ahead() string {
	if len(s.Newer) == 0 {
		return ""
	}
	return fmt.Sprintf("database has %s newer than this build: %s", plural(len(s.Newer), "migration"), listSome(s.Newer))
}

// ReadBuildState compares the revision table in revisionSchema
// (RevisionSchema when empty) with the build's files. Like the Atlas CLI,
// it counts a file older than the database's first revision as applied:
// the history began there, with a baseline or a checkpoint.
func ReadBuildState(ctx context.Context, db *sql.DB, build *BuildFiles, revisionSchema string) (*BuildState, error) {
	revs, err := NewRevisionTable(db, revisionSchema).ReadRevisions(ctx)
	if err != nil {
		return nil, err
	}
	st := &BuildState{Current: currentVersion(revs)}
	byVersion := make(map[string]*atlasmigrate.Revision, len(revs))
	for _, r := range revs {
		byVersion[r.Version] = r
	}
	for _, f := range build.files {
		r, ok := byVersion[f.Version()]
		switch {
		case !ok && len(revs) > 0 && f.Version() < revs[0].Version:
		case !ok:
			st.Lacking = append(st.Lacking, f.Name()+" (not applied)")
		default:
			if note := revisionNote(r); note != "" {
				st.Lacking = append(st.Lacking, f.Name()+" ("+note+")")
			}
		}
	}
	for _, r := range revs {
		if r.Version <= build.head {
			continue
		}
		name := r.Version
		if r.Description != "" {
			name += "_" + r.Description
		}
		if note := revisionNote(r); note != "" {
			name += " (" + note + ")"
		}
		st.Newer = append(st.Newer, name)
	}
	return st, nil
}

// revisionNote says why a revision does not count as applied, or "" when it
// does. A baseline or resolved revision counts, as for the Atlas CLI.
func revisionNote(r *atlasmigrate.Revision) string {
	switch {
	case r.Type.Has(atlasmigrate.RevisionTypeBaseline) || r.Type.Has(atlasmigrate.RevisionTypeResolved):
		return ""
	case r.Error != "":
		return fmt.Sprintf("failed at statement %d of %d", r.Applied+1, r.Total)
	case r.Applied < r.Total:
		return fmt.Sprintf("partially applied: %d of %d statements", r.Applied, r.Total)
	}
	return ""
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// listSome joins up to five items and counts the rest, so a readiness
// answer stays short on a database far behind.
func listSome(items []string) string {
	const most = 5
	if len(items) <= most {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:most], ", ") + fmt.Sprintf(" and %d more", len(items)-most)
}
