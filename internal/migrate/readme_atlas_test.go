package migrate

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"github.com/jackc/pgx/v5"

	"accounts/internal/config"
)

// TestReadmeAtlasSection keeps the README's Atlas CLI commands working as
// written. It reads the section and atlas.hcl, checks that the section
// creates every database atlas.hcl's URLs name, that its DATABASE_URL is
// the service's default database and that atlas.hcl falls back to the
// service's default URL without DATABASE_URL; then it runs the section
// with the Atlas library, as TestAtlasCLIDiffMatchesEngine does, on
// scratch copies of the databases it creates: `atlas migrate diff` on
// the dev database (bound to public, as atlas.hcl binds it) writes
// nothing for the committed schema, `atlas migrate apply` applies every
// file, and `atlas migrate status` then finds none pending.
func TestReadmeAtlasSection(t *testing.T) {
	t.Parallel()
	readme, hcl := readRepoFile(t, "README.md"), readRepoFile(t, "atlas.hcl")
	target, dev := checkReadmeAtlasURLs(t, readmeAtlasSection(t, readme), hcl)
	runReadmeAtlasSection(t, target, dev)
}

// readRepoFile returns the content of the repository's file name, given
// relative to the repository's root.
func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// readmeAtlasSection returns the README's atlas-cli section, from its
// opening marker up to its closing one.
func readmeAtlasSection(t *testing.T, readme string) string {
	t.Helper()
	start, end := strings.Index(readme, "<!-- atlas-cli"), strings.Index(readme, "<!-- /atlas-cli -->")
	if start < 0 || end < start {
		t.Fatal("README has no atlas-cli section")
	}
	return readme[start:end]
}

// checkReadmeAtlasURLs checks the URLs of the README's atlas-cli section
// against atlas.hcl (its content hcl) and the service's defaults: the
// section's DATABASE_URL names the service's default database on its
// default server and user, atlas.hcl falls back to that URL without
// DATABASE_URL, and the section creates both it and atlas.hcl's default dev
// database. It returns the section's DATABASE_URL and atlas.hcl's dev URL.
func checkReadmeAtlasURLs(t *testing.T, section, hcl string) (target, dev *url.URL) {
	t.Helper()
	created := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^createdb -h localhost -U postgres (\w+)`).FindAllStringSubmatch(section, -1) {
		created[m[1]] = true
	}
	m := regexp.MustCompile(`(?m)^export DATABASE_URL='([^']+)'`).FindStringSubmatch(section)
	if m == nil {
		t.Fatal("the section sets no DATABASE_URL")
	}
	target = parseURL(t, m[1])
	defaults := config.Default().Database
	if name := strings.TrimPrefix(target.Path, "/"); name != defaults.Name || !created[name] {
		t.Errorf("the section's DATABASE_URL names %q; want the service's default %q, created by the section (created: %v)", name, defaults.Name, created)
	}
	dm := regexp.MustCompile(`dev = getenv\("ATLAS_DEV_URL"\) != "" \? getenv\("ATLAS_DEV_URL"\) : "([^"]+)"`).FindStringSubmatch(hcl)
	um := regexp.MustCompile(`url = getenv\("DATABASE_URL"\) != "" \? getenv\("DATABASE_URL"\) : "([^"]+)"`).FindStringSubmatch(hcl)
	if dm == nil || um == nil {
		t.Fatal("atlas.hcl has no default dev URL or no default url for an unset DATABASE_URL")
	}
	dev = parseURL(t, dm[1])
	if name := strings.TrimPrefix(dev.Path, "/"); !created[name] {
		t.Errorf("atlas.hcl's dev database %q is not created by the section (created: %v)", name, created)
	}
	if um[1] != m[1] {
		t.Errorf("without DATABASE_URL atlas.hcl uses %s, not the section's (the service's default) %s", um[1], m[1])
	}
	pw, _ := target.User.Password()
	if target.Hostname() != defaults.Host || target.Port() != "5432" || target.User.Username() != defaults.User || pw != defaults.Password {
		t.Errorf("the section's DATABASE_URL %s is not the service's default server and user", m[1])
	}
	return target, dev
}

// runReadmeAtlasSection runs the section's commands, on scratch databases
// of the test server with the queries of target (the section's
// DATABASE_URL) and dev (atlas.hcl's dev URL): `atlas migrate diff` writes
// nothing for the committed schema, then `atlas migrate apply` and `atlas
// migrate status` as checkReadmeAtlasApply checks them.
func runReadmeAtlasSection(t *testing.T, target, dev *url.URL) {
	t.Helper()
	ctx := ctxFor(t)
	devURL := scratchURL(t, dev.RawQuery)
	appURL := scratchURL(t, target.RawQuery)
	// The README's commands run on the service's own files, not the
	// engine's snapshot: migrations/ and ent/schema.sql, which a schema
	// change moves together.
	dir := liveMigrations(t)
	src := []byte(readRepoFile(t, "ent/schema.sql"))
	if got := cliDiffOn(t, ctx, DevDatabase{URL: devURL}, dir, src, atlasHCLDiffPolicy(t), atlasHCLDiffFormat(t)); strings.TrimSpace(got) != "" {
		t.Errorf("atlas migrate diff on the committed schema would write:\n%s", got)
	}
	checkReadmeAtlasApply(ctx, t, appURL, dir)
}

// scratchURL creates a new empty database and returns its URL with the
// query of the section's URL (search_path=public for dev), so the
// statements come out as the CLI writes them.
func scratchURL(t *testing.T, query string) string {
	t.Helper()
	_, u := newDB(t)
	p := parseURL(t, u)
	p.RawQuery = query
	return p.String()
}

// checkReadmeAtlasApply runs `atlas migrate apply` of dir on the database
// at appURL and checks that `atlas migrate status` then finds every file
// applied.
func checkReadmeAtlasApply(ctx context.Context, t *testing.T, appURL string, dir *atlasmigrate.LocalDir) {
	t.Helper()
	db, err := sql.Open("pgx", appURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	if err := ApplyAll(ctx, db, dir, "readme test"); err != nil {
		t.Fatalf("atlas migrate apply: %v", err)
	}
	files, err := dir.Files()
	if err != nil {
		t.Fatal(err)
	}
	revs, err := NewRevisionTable(db, "").ReadRevisions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	applied := 0
	for _, r := range revs {
		if r.Applied == r.Total && r.Error == "" {
			applied++
		}
	}
	if applied != len(files) {
		t.Errorf("atlas migrate status: %d of %d files applied", applied, len(files))
	}
}

func parseURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	if _, err := pgx.ParseConfig(raw); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// liveMigrations copies the service's migrations/ into a temporary
// directory. Only the README test uses it; the engine's tests run on
// testdata/service.
func liveMigrations(t testing.TB) *atlasmigrate.LocalDir {
	t.Helper()
	tmp := t.TempDir()
	src := filepath.Join("..", "..", "migrations")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".sql") && e.Name() != "atlas.sum" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := atlasmigrate.NewLocalDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}
