package migrate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
)

// DefaultDirPath is where the migration directory lives in the working tree.
const DefaultDirPath = "migrations"

// Origins that OpenDir reports.
const (
	originEmbedded = "embedded in the binary"
)

// OpenDir returns the migration directory to use: path in the working
// directory when it exists (the development loop), else the copy embedded
// in the binary (production). origin says which, for humans.
func OpenDir(path string, embedded fs.FS) (dir atlasmigrate.Dir, origin string, err error) {
	if path == "" {
		path = DefaultDirPath
	}
	st, err := os.Stat(path)
	switch {
	case err == nil && st.IsDir():
		d, err := atlasmigrate.NewLocalDir(path)
		if err != nil {
			return nil, "", fmt.Errorf("open migration directory %s: %w", path, err)
		}
		return d, filepath.ToSlash(filepath.Clean(path)) + "/ (working directory)", nil
	case err == nil:
		return nil, "", fmt.Errorf("migration directory %s is a file, not a directory", path)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, "", fmt.Errorf("open migration directory %s: %w", path, err)
	}
	if embedded == nil {
		return nil, "", fmt.Errorf("migration directory %s does not exist and this binary embeds none; pass --dir", path)
	}
	return &EmbeddedDir{FS: embedded}, originEmbedded, nil
}

// OpenLocalDir opens a migration directory on disk, creating it when create
// is set. Commands that write files (diff, new, hash) use it: the embedded
// copy is read-only.
func OpenLocalDir(path string, create bool) (*atlasmigrate.LocalDir, error) {
	if path == "" {
		path = DefaultDirPath
	}
	if create {
		if err := os.MkdirAll(path, 0o755); err != nil {
			return nil, fmt.Errorf("create migration directory %s: %w", path, err)
		}
	}
	d, err := atlasmigrate.NewLocalDir(path)
	if err != nil {
		return nil, fmt.Errorf("open migration directory %s: %w", path, err)
	}
	return d, nil
}

// EmbeddedDir is a read-only migration directory backed by an fs.FS (the
// embedded copy of migrations/). Like Atlas, it reads only *.sql files.
type EmbeddedDir struct {
	FS fs.FS
}

var _ atlasmigrate.Dir = (*EmbeddedDir)(nil)

// Open implements fs.FS.
func (d *EmbeddedDir) Open(name string) (fs.File, error) { return d.FS.Open(name) }

// WriteFile implements migrate.Dir; the embedded directory cannot change.
func (d *EmbeddedDir) WriteFile(name string, _ []byte) error {
	return fmt.Errorf("cannot write %s: the migration directory embedded in the binary is read-only; run the command where migrations/ exists or pass --dir", name)
}

// Files implements migrate.Dir: the *.sql files ordered by name.
func (d *EmbeddedDir) Files() ([]atlasmigrate.File, error) {
	names, err := fs.Glob(d.FS, "*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	files := make([]atlasmigrate.File, 0, len(names))
	for _, n := range names {
		b, err := fs.ReadFile(d.FS, n)
		if err != nil {
			return nil, fmt.Errorf("read migration file %s: %w", n, err)
		}
		files = append(files, atlasmigrate.NewLocalFile(n, b))
	}
	return files, nil
}

// Checksum implements migrate.Dir.
func (d *EmbeddedDir) Checksum() (atlasmigrate.HashFile, error) {
	files, err := d.Files()
	if err != nil {
		return nil, err
	}
	return atlasmigrate.NewHashFile(files)
}

// Head returns the version of the newest migration file of dir, or "" when
// it has none.
func Head(dir atlasmigrate.Dir) (string, error) {
	files, err := dir.Files()
	if err != nil {
		return "", fmt.Errorf("read migration directory: %w", err)
	}
	if len(files) == 0 {
		return "", nil
	}
	return files[len(files)-1].Version(), nil
}

// Hash rewrites atlas.sum from the files of dir (`migrate hash`).
func Hash(dir atlasmigrate.Dir) error {
	sum, err := dir.Checksum()
	if err != nil {
		return fmt.Errorf("hash migration directory: %w", err)
	}
	if err := atlasmigrate.WriteSumFile(dir, sum); err != nil {
		return fmt.Errorf("write atlas.sum: %w", err)
	}
	return nil
}

// ChecksumMismatchError says which file does not match atlas.sum and how.
type ChecksumMismatchError struct {
	File   string // the file that differs from its atlas.sum entry
	Reason string // "edited", "added" or "removed"
	Err    error  // the library's error
}

func (e *ChecksumMismatchError) Error() string {
	switch e.Reason {
	case "added":
		return fmt.Sprintf("atlas.sum does not match the migration directory: %s was added without re-hashing; "+
			"if it was written by hand, run `accounts migrate hash`", e.File)
	case "removed":
		return fmt.Sprintf("atlas.sum does not match the migration directory: %s is listed in atlas.sum but missing; "+
			"restore it, or run `accounts migrate hash` if removing it was intended (and it was never applied anywhere)", e.File)
	default:
		return fmt.Sprintf("atlas.sum does not match the migration directory: %s was edited after it was hashed; "+
			"undo the edit, or (only if it has not been applied to any database) run `accounts migrate hash`", e.File)
	}
}

func (e *ChecksumMismatchError) Unwrap() error { return e.Err }

// Validate checks the files of dir against atlas.sum (`migrate validate`) and
// that every file name carries a version. A mismatch is a
// *ChecksumMismatchError naming the file.
func Validate(dir atlasmigrate.Dir) error {
	if err := atlasmigrate.Validate(dir); err != nil {
		return explainChecksum(err)
	}
	files, err := dir.Files()
	if err != nil {
		return err
	}
	for _, f := range files {
		if !versionPattern.MatchString(f.Name()) {
			return fmt.Errorf("migration file %s: name must be <version>_<name>.sql with a numeric version such as %s", f.Name(), time.Now().UTC().Format(versionLayout))
		}
	}
	return nil
}

var versionPattern = regexp.MustCompile(`^[0-9]+(_.*)?\.sql$`)

func explainChecksum(err error) error {
	var ce *atlasmigrate.ChecksumError
	switch {
	case errors.As(err, &ce):
		return &ChecksumMismatchError{File: ce.File, Reason: ce.Reason.String(), Err: err}
	case errors.Is(err, atlasmigrate.ErrChecksumNotFound):
		return fmt.Errorf("the migration directory has no atlas.sum; run `accounts migrate hash` to create it: %w", err)
	case errors.Is(err, atlasmigrate.ErrChecksumFormat):
		return fmt.Errorf("atlas.sum is malformed (merge conflict?); run `accounts migrate hash` after resolving it: %w", err)
	case errors.Is(err, atlasmigrate.ErrChecksumMismatch):
		return fmt.Errorf("atlas.sum does not match its own entries (edited by hand or a merge); run `accounts migrate hash`: %w", err)
	}
	return err
}

// versionLayout is the UTC timestamp format of migration versions.
const versionLayout = "20060102150405"

// nextVersion returns a new version: the current UTC time, or one second
// past the newest file when the clock has not moved past it, so two files
// written in the same second never collide.
func nextVersion(dir atlasmigrate.Dir, now time.Time) (string, error) {
	v := now.UTC().Format(versionLayout)
	head, err := Head(dir)
	if err != nil {
		return "", err
	}
	if head != "" && v <= head {
		t, err := time.Parse(versionLayout, head)
		if err != nil {
			return "", fmt.Errorf("newest migration version %q is not a %s timestamp; cannot pick a later one", head, versionLayout)
		}
		v = t.Add(time.Second).Format(versionLayout)
	}
	return v, nil
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_]*$`)

func checkName(name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("migration name %q: use letters, digits and underscores, e.g. add_user_email", name)
	}
	return nil
}

// New writes an empty, hashed migration file named <version>_<name>.sql for
// hand-written SQL (`migrate new`), and returns its name.
func New(dir atlasmigrate.Dir, name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	if err := Validate(dir); err != nil {
		return "", err
	}
	v, err := nextVersion(dir, time.Now())
	if err != nil {
		return "", err
	}
	plan := &atlasmigrate.Plan{Version: v, Name: name}
	if err := atlasmigrate.NewPlanner(nil, dir, atlasmigrate.PlanFormat(atlasmigrate.DefaultFormatter)).WritePlan(plan); err != nil {
		return "", fmt.Errorf("write migration file: %w", err)
	}
	return v + "_" + name + ".sql", nil
}
