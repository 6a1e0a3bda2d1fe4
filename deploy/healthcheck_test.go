package deploy

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"accounts/internal/config"
)

// TestComposeAppHealthcheck: the app service's health check runs the
// binary's own probe in exec form (the distroless image has no shell), at
// the path where the Dockerfile puts the binary, with a subcommand the
// binary has, against the port app listens on, and gives /readyz at least
// its http.ready_timeout before Docker gives up on it.
func TestComposeAppHealthcheck(t *testing.T) {
	t.Parallel()
	f, _ := loadCompose(t)
	app := f.Services["app"]
	hc := app.Healthcheck
	if hc == nil {
		t.Fatal("app has no healthcheck")
	}
	if len(hc.Test) < 3 || hc.Test[0] != "CMD" {
		t.Fatalf(`app healthcheck test = %q, want ["CMD", "<binary>", "healthcheck", ...]: the image has no shell for CMD-SHELL`, hc.Test)
	}
	if binary := imageEntrypoint(t); hc.Test[1] != binary {
		t.Errorf("app healthcheck runs %q, but the image's binary is %q", hc.Test[1], binary)
	}
	if hc.Test[2] != "healthcheck" {
		t.Errorf("app healthcheck runs the subcommand %q, want healthcheck", hc.Test[2])
	}
	if !commandDefined(t, hc.Test[2]) {
		t.Errorf("cmd/accounts defines no %q command", hc.Test[2])
	}
	for i, arg := range hc.Test {
		if arg != "--url" && !strings.HasPrefix(arg, "--url=") {
			continue
		}
		raw := strings.TrimPrefix(arg, "--url=")
		if arg == "--url" && i+1 < len(hc.Test) {
			raw = hc.Test[i+1]
		}
		listen := "8080"
		if addr, ok := app.Environment["ACCOUNTS_HTTP_ADDR"]; ok {
			listen = addr[strings.LastIndex(addr, ":")+1:]
		}
		if u, err := url.Parse(raw); err != nil || u.Port() != listen {
			t.Errorf("app healthcheck probes %q, but app listens on port %s", raw, listen)
		}
	}
	timeout := 30 * time.Second // Compose's default
	if hc.Timeout != "" {
		var err error
		if timeout, err = time.ParseDuration(hc.Timeout); err != nil {
			t.Fatalf("app healthcheck timeout: %v", err)
		}
	}
	if ready := config.Default().HTTP.ReadyTimeout; timeout <= ready {
		t.Errorf("app healthcheck timeout %s is not more than http.ready_timeout (%s): Docker would give up before /readyz says why", timeout, ready)
	}
}

// imageEntrypoint returns the binary the final stage of the Dockerfile
// runs: the first element of its exec-form ENTRYPOINT.
func imageEntrypoint(t *testing.T) string {
	t.Helper()
	var entrypoint string
	for _, in := range readDockerfile(t) {
		if in.Cmd == "FROM" {
			entrypoint = ""
		}
		if in.Cmd == "ENTRYPOINT" {
			entrypoint = in.Args
		}
	}
	var argv []string
	if err := json.Unmarshal([]byte(entrypoint), &argv); err != nil || len(argv) == 0 {
		t.Fatalf("final stage ENTRYPOINT %q is not in exec form", entrypoint)
	}
	return argv[0]
}

// commandDefined tells whether the sources of cmd/accounts build a cobra
// command whose Use starts with name.
func commandDefined(t *testing.T, name string) bool {
	t.Helper()
	paths, err := filepath.Glob("../cmd/accounts/*.go")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	fset := token.NewFileSet()
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			kv, ok := n.(*ast.KeyValueExpr)
			if !ok {
				return true
			}
			key, ok := kv.Key.(*ast.Ident)
			lit, isLit := kv.Value.(*ast.BasicLit)
			if !ok || key.Name != "Use" || !isLit || lit.Kind != token.STRING {
				return true
			}
			if use, err := strconv.Unquote(lit.Value); err == nil && strings.Fields(use + " ")[0] == name {
				found = true
			}
			return true
		})
	}
	return found
}
