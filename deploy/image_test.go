package deploy

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction with its continuation lines
// joined.
type instruction struct {
	Cmd  string // upper case: FROM, RUN, USER...
	Args string
	Line int
}

func readDockerfile(t *testing.T) []instruction {
	t.Helper()
	f, err := os.Open("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var out []instruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(text, "#") || (text == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = line
		}
		if cont, ok := strings.CutSuffix(text, `\`); ok {
			cur.WriteString(cont + " ")
			continue
		}
		cur.WriteString(text)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args), Line: start})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDockerfileBuildsASmallStaticNonRootImage(t *testing.T) {
	t.Parallel()
	ins := readDockerfile(t)
	var froms []int
	for i, in := range ins {
		if in.Cmd == "FROM" {
			froms = append(froms, i)
		}
	}
	if len(froms) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a final one", len(froms))
	}
	build, final := ins[froms[0]:froms[len(froms)-1]], ins[froms[len(froms)-1]:]

	var buildCmd string
	for _, in := range build {
		if in.Cmd == "RUN" && strings.Contains(in.Args, "go build") {
			buildCmd = in.Args
		}
	}
	if buildCmd == "" {
		t.Fatal("the build stage runs no go build")
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-s -w", "-X main.version=", "./cmd/accounts"} {
		if !strings.Contains(buildCmd, want) {
			t.Errorf("go build command lacks %q: %s", want, buildCmd)
		}
	}

	base := strings.Fields(final[0].Args)[0]
	distroless := strings.Contains(base, "distroless/static") && strings.HasSuffix(base, ":nonroot")
	if !distroless && base != "scratch" {
		t.Errorf("final stage is FROM %s, want distroless/static:nonroot or scratch", base)
	}
	var user, entrypoint, cmd string
	copied := false
	for _, in := range final {
		switch in.Cmd {
		case "USER":
			user = in.Args
		case "ENTRYPOINT":
			entrypoint = in.Args
		case "CMD":
			cmd = in.Args
		case "COPY":
			copied = copied || strings.Contains(in.Args, "--from=")
		}
	}
	if !copied {
		t.Error("the final stage copies nothing from the build stage")
	}
	name, _, _ := strings.Cut(user, ":")
	if name == "" || name == "root" || name == "0" {
		t.Errorf("final stage USER = %q; the image must run as a non-root user", user)
	}
	if base == "scratch" {
		if _, err := strconv.Atoi(name); err != nil {
			t.Errorf("scratch has no /etc/passwd: USER must be numeric, got %q", user)
		}
	}
	if !strings.HasPrefix(entrypoint, `["`) || !strings.Contains(entrypoint, "accounts") {
		t.Errorf(`ENTRYPOINT = %s, want the binary in exec form (["/…/accounts"])`, entrypoint)
	}
	if cmd != `["serve"]` {
		t.Errorf(`CMD = %s, want ["serve"]`, cmd)
	}
}

// TestVersionVariableExists guards the -X main.version flag of the Dockerfile
// and the Makefile: the linker ignores -X for a variable that does not
// exist, so a rename would silently stamp nothing.
func TestVersionVariableExists(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob("../cmd/accounts/*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		t.Fatal("no Go files in cmd/accounts")
	}
	vs, i := findPackageVar(files, "version")
	switch {
	case vs == nil:
		t.Error("cmd/accounts declares no package-level var version for -X main.version")
	// -X sets only a string variable initialised to a constant or not at all.
	case len(vs.Values) > i:
		if lit, ok := vs.Values[i].(*ast.BasicLit); !ok || lit.Kind != token.STRING {
			t.Errorf("main.version is not initialised to a string literal, so -X cannot set it")
		}
	default:
		if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "string" {
			t.Errorf("main.version is not a string, so -X cannot set it")
		}
	}
}

// findPackageVar returns the spec declaring the package-level variable
// name in files and its position in that spec, or nil.
func findPackageVar(files []*ast.File, name string) (*ast.ValueSpec, int) {
	for _, file := range files {
		for _, decl := range file.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.VAR {
				continue
			}
			for _, spec := range gen.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if n.Name == name {
						return vs, i
					}
				}
			}
		}
	}
	return nil, 0
}

// dockerignored tells whether the build context leaves path out, the way
// Docker reads .dockerignore: the last matching pattern wins, a pattern
// that matches a folder covers everything under it, ! re-includes.
func dockerignored(patterns []string, path string) bool {
	ignored := false
	for _, p := range patterns {
		negate := strings.HasPrefix(p, "!")
		p = strings.Trim(strings.TrimPrefix(p, "!"), "/")
		for prefix := path; prefix != "."; prefix = filepath.Dir(prefix) {
			if ok, _ := filepath.Match(p, prefix); ok {
				ignored = !negate
				break
			}
		}
	}
	return ignored
}

func readDockerignore(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, line)
		}
	}
	return patterns
}

func TestDockerignored(t *testing.T) {
	t.Parallel()
	patterns := []string{".env", ".env.*", ".git", "bin/", "/accounts", "*.test", "docs", "!docs/keep.md"}
	cases := map[string]bool{
		".env": true, ".env.local": true, ".git/HEAD": true, "bin/accounts": true,
		"accounts": true, "x.test": true, "docs/a.md": true, "docs/keep.md": false,
		"go.mod": false, "cmd/accounts/main.go": false, "internal/x/y.go": false,
	}
	for path, want := range cases {
		if got := dockerignored(patterns, path); got != want {
			t.Errorf("dockerignored(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestDockerignoreKeepsSourcesAndDropsSecrets(t *testing.T) {
	t.Parallel()
	patterns := readDockerignore(t)
	for _, path := range []string{"go.mod", "go.sum", "cmd/accounts/main.go", "internal/config/config.go", "ent/client.go", "migrations/atlas.sum", "migrations/embed.go"} {
		if dockerignored(patterns, path) {
			t.Errorf(".dockerignore leaves out %s, which go build needs", path)
		}
	}
	for _, path := range []string{".env", ".git/config", ".data/postgres/PG_VERSION"} {
		if !dockerignored(patterns, path) {
			t.Errorf(".dockerignore lets %s into the build context", path)
		}
	}
}
