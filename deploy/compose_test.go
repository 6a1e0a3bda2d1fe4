package deploy

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"accounts/internal/config"
)

// The files under test sit at the root of the module, one folder up.
const (
	composePath    = "../docker-compose.yml"
	envExamplePath = "../.env.example"
)

// composeFile is the part of the Compose specification these tests read.
type composeFile struct {
	Services map[string]service `yaml:"services"`
	Volumes  map[string]any     `yaml:"volumes"`
}

type service struct {
	Image           string       `yaml:"image"`
	Build           *build       `yaml:"build"`
	Command         stringOrList `yaml:"command"`
	Environment     environment  `yaml:"environment"`
	DependsOn       dependsOn    `yaml:"depends_on"`
	Volumes         []mount      `yaml:"volumes"`
	Ports           []port       `yaml:"ports"`
	Healthcheck     *healthcheck `yaml:"healthcheck"`
	StopGracePeriod string       `yaml:"stop_grace_period"`
	Restart         string       `yaml:"restart"`
}

type healthcheck struct {
	Test    stringOrList `yaml:"test"`
	Timeout string       `yaml:"timeout"`
}

// build is the build section, short ("build: .") or long.
type build struct {
	Context    string
	Dockerfile string
}

func (b *build) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		b.Context = n.Value
		return nil
	}
	var long struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	}
	if err := n.Decode(&long); err != nil {
		return err
	}
	b.Context, b.Dockerfile = long.Context, long.Dockerfile
	return nil
}

// stringOrList is a field Compose takes as one string or as a list.
type stringOrList []string

func (s *stringOrList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = strings.Fields(n.Value)
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*s = l
	return nil
}

// environment is a service's environment, given as a map or as a list of
// NAME=value; a name without a value (passed through from the host) maps
// to "".
type environment map[string]string

func (e *environment) UnmarshalYAML(n *yaml.Node) error {
	*e = environment{}
	if n.Kind == yaml.SequenceNode {
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, item := range l {
			name, value, _ := strings.Cut(item, "=")
			(*e)[name] = value
		}
		return nil
	}
	var m map[string]any
	if err := n.Decode(&m); err != nil {
		return err
	}
	for name, value := range m {
		if value == nil {
			(*e)[name] = ""
		} else {
			(*e)[name] = fmt.Sprint(value)
		}
	}
	return nil
}

// dependsOn maps each service depended on to its condition; the list form
// means service_started.
type dependsOn map[string]string

func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	*d = dependsOn{}
	if n.Kind == yaml.SequenceNode {
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, name := range l {
			(*d)[name] = "service_started"
		}
		return nil
	}
	var m map[string]struct {
		Condition string `yaml:"condition"`
	}
	if err := n.Decode(&m); err != nil {
		return err
	}
	for name, c := range m {
		if c.Condition == "" {
			c.Condition = "service_started"
		}
		(*d)[name] = c.Condition
	}
	return nil
}

// mount is one entry of a service's volumes, short ("src:dst:ro") or long.
type mount struct {
	Source, Target string
}

func (m *mount) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		parts := strings.Split(n.Value, ":")
		if len(parts) == 1 {
			m.Target = parts[0] // an anonymous volume
			return nil
		}
		m.Source, m.Target = parts[0], parts[1]
		return nil
	}
	var long struct {
		Source string `yaml:"source"`
		Target string `yaml:"target"`
	}
	if err := n.Decode(&long); err != nil {
		return err
	}
	m.Source, m.Target = long.Source, long.Target
	return nil
}

// port is one published port; Target is the port inside the container.
type port struct {
	Target string
}

func (p *port) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		// [ip:]host:container[/proto]; the container port is the last part.
		spec, _, _ := strings.Cut(n.Value, "/")
		p.Target = spec[strings.LastIndex(spec, ":")+1:]
		return nil
	}
	var long struct {
		Target any `yaml:"target"`
	}
	if err := n.Decode(&long); err != nil {
		return err
	}
	p.Target = fmt.Sprint(long.Target)
	return nil
}

func loadCompose(t *testing.T) (*composeFile, *yaml.Node) {
	t.Helper()
	data, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatalf("%s: %v", composePath, err)
	}
	var f composeFile
	if err := root.Decode(&f); err != nil {
		t.Fatalf("%s: %v", composePath, err)
	}
	for _, name := range []string{"db", "migrate", "app"} {
		if _, ok := f.Services[name]; !ok {
			t.Fatalf("%s has no service %q", composePath, name)
		}
	}
	return &f, &root
}

// variableRef matches a Compose interpolation: ${NAME...} or $NAME. A
// doubled $$ is an escaped dollar and is removed before matching.
var variableRef = regexp.MustCompile(`\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))`)

// variables returns the variables interpolated in one Compose value, in
// order of appearance.
func variables(value string) []string {
	var names []string
	for _, m := range variableRef.FindAllStringSubmatch(strings.ReplaceAll(value, "$$", ""), -1) {
		names = append(names, m[1]+m[2])
	}
	return names
}

// usedVariables walks every value of the document (Compose interpolates
// values, not keys) and returns the variables they use, sorted.
func usedVariables(n *yaml.Node) []string {
	var names []string
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c)
			}
		case yaml.MappingNode:
			for i := 1; i < len(n.Content); i += 2 {
				walk(n.Content[i])
			}
		case yaml.ScalarNode:
			names = append(names, variables(n.Value)...)
		}
		// An alias repeats its anchor, which the walk has seen already.
	}
	walk(n)
	slices.Sort(names)
	return slices.Compact(names)
}

// documentedVariables returns the NAME of every NAME=value line of
// .env.example, failing on a line that is neither that, a comment nor blank.
func documentedVariables(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(envExamplePath)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	assignment := regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)
	vars := map[string]string{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		m := assignment.FindStringSubmatch(text)
		if m == nil {
			t.Errorf("%s:%d: not a NAME=value line: %q", envExamplePath, line, text)
			continue
		}
		if _, dup := vars[m[1]]; dup {
			t.Errorf("%s:%d: %s listed twice", envExamplePath, line, m[1])
		}
		vars[m[1]] = m[2]
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return vars
}

func TestVariablesFindsEveryInterpolation(t *testing.T) {
	t.Parallel()
	cases := map[string][]string{
		"plain":                         nil,
		"${A}":                          {"A"},
		"$A and $B_2":                   {"A", "B_2"},
		"${A:-x}/${B-y}/${C:?e}/${D?e}": {"A", "B", "C", "D"},
		"${A:-${B}}":                    {"A", "B"},
		"$${ESCAPED} $$ESCAPED":         nil,
		"$${ESCAPED} ${REAL}":           {"REAL"},
		"127.0.0.1:${PORT:-5432}:5432":  {"PORT"},
	}
	for in, want := range cases {
		if got := variables(in); !slices.Equal(got, want) {
			t.Errorf("variables(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestComposeVariablesAreInEnvExample(t *testing.T) {
	t.Parallel()
	_, root := loadCompose(t)
	used := usedVariables(root)
	if len(used) == 0 {
		t.Fatalf("found no ${VARIABLE} in %s; the walk is broken", composePath)
	}
	documented := documentedVariables(t)
	for _, name := range used {
		if _, ok := documented[name]; !ok {
			t.Errorf("%s uses ${%s}, which %s does not list", composePath, name, envExamplePath)
		}
	}
	for name := range documented {
		if !slices.Contains(used, name) {
			t.Errorf("%s lists %s, which %s does not use", envExamplePath, name, composePath)
		}
	}
}

// pinnedImage is an image named by its digest, which no push can move.
var pinnedImage = regexp.MustCompile(`^[a-z0-9._/-]+@sha256:[0-9a-f]{64}$`)

// TestComposeImagesArePinned: every image compose pulls is named by its
// digest, with the tag it was taken from in a comment on the same line, so
// that a reader knows what to update.
func TestComposeImagesArePinned(t *testing.T) {
	t.Parallel()
	f, _ := loadCompose(t)
	raw, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatal(err)
	}
	for name, svc := range f.Services {
		if svc.Build != nil {
			continue
		}
		if !pinnedImage.MatchString(svc.Image) {
			t.Errorf("service %s pulls %q, not pinned by digest", name, svc.Image)
			continue
		}
		tagged := regexp.MustCompile(`(?m)^\s*image: ` + regexp.QuoteMeta(svc.Image) + ` # [a-z0-9._/-]+:[A-Za-z0-9._-]+$`)
		if !tagged.Match(raw) {
			t.Errorf("service %s: the line of image %s has no comment naming its tag (# name:tag)", name, svc.Image)
		}
	}
}

func TestComposeDatabaseService(t *testing.T) {
	t.Parallel()
	f, _ := loadCompose(t)
	db := f.Services["db"]
	if !pinnedImage.MatchString(db.Image) || !strings.HasPrefix(db.Image, "postgres@") {
		t.Errorf("db image = %q, want postgres pinned by digest (postgres@sha256:<64 hex>)", db.Image)
	}
	if db.Healthcheck == nil {
		t.Error("db has no healthcheck; migrate waits for service_healthy")
	} else if !strings.Contains(strings.Join(db.Healthcheck.Test, " "), "pg_isready") {
		t.Errorf("db healthcheck %q does not run pg_isready", db.Healthcheck.Test)
	}
	for _, v := range []string{"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"} {
		if !slices.Contains(variables(db.Environment[v]), v) {
			t.Errorf("db %s = %q, want it taken from ${%s} in .env", v, db.Environment[v], v)
		}
	}

	initScripts := map[string]bool{}
	data := false
	for _, m := range db.Volumes {
		switch {
		case strings.HasPrefix(m.Target, "/docker-entrypoint-initdb.d/"), m.Target == "/accounts/roles.sql":
			if _, err := os.Stat(filepath.Join("..", m.Source)); err != nil {
				t.Errorf("db init script: %v", err)
			}
			initScripts[m.Source] = true
		case m.Target == "/var/lib/postgresql/data":
			if _, named := f.Volumes[m.Source]; !named {
				t.Errorf("db data is on %q, which is not a named volume declared under volumes:", m.Source)
			}
			data = true
		}
	}
	for _, want := range []string{"./scripts/init-db.sql", "./scripts/init-db-roles.sh", "./internal/database/roles.sql"} {
		if !initScripts[want] {
			t.Errorf("db does not mount %s for its first start", want)
		}
	}
	if !data {
		t.Error("db keeps /var/lib/postgresql/data in no volume")
	}
}

func TestComposeMigrateService(t *testing.T) {
	t.Parallel()
	f, _ := loadCompose(t)
	m := f.Services["migrate"]
	wantBuiltFromDockerfile(t, "migrate", m)
	if !slices.Equal(m.Command, []string{"migrate", "apply"}) {
		t.Errorf("migrate command = %q, want [migrate apply]", m.Command)
	}
	if got := m.DependsOn["db"]; got != "service_healthy" {
		t.Errorf("migrate depends on db with condition %q, want service_healthy", got)
	}
	if m.Restart != "" && m.Restart != "no" {
		t.Errorf("migrate restart = %q; a one-shot service must not restart", m.Restart)
	}
}

func TestComposeAppService(t *testing.T) {
	t.Parallel()
	f, _ := loadCompose(t)
	app := f.Services["app"]
	wantBuiltFromDockerfile(t, "app", app)
	if len(app.Command) == 0 || app.Command[0] != "serve" {
		t.Errorf("app command = %q, want serve", app.Command)
	}
	if got := app.DependsOn["migrate"]; got != "service_completed_successfully" {
		t.Errorf("app depends on migrate with condition %q, want service_completed_successfully", got)
	}

	listen := "8080" // http.addr's default, ":8080"
	if addr, ok := app.Environment["ACCOUNTS_HTTP_ADDR"]; ok {
		listen = addr[strings.LastIndex(addr, ":")+1:]
	}
	published := slices.ContainsFunc(app.Ports, func(p port) bool { return p.Target == listen })
	if !published {
		t.Errorf("app listens on %s but publishes %v", listen, app.Ports)
	}

	// serve drains in-flight requests for http.shutdown_timeout after
	// SIGTERM; compose must wait at least that long before SIGKILL.
	drain := config.Default().HTTP.ShutdownTimeout
	grace := 10 * time.Second // Compose's default
	if app.StopGracePeriod != "" {
		var err error
		if grace, err = time.ParseDuration(app.StopGracePeriod); err != nil {
			t.Fatalf("app stop_grace_period: %v", err)
		}
	}
	if grace <= drain {
		t.Errorf("app stop_grace_period is %s, not more than http.shutdown_timeout (%s): SIGKILL would cut the drain short", grace, drain)
	}
}

func wantBuiltFromDockerfile(t *testing.T, name string, s service) {
	t.Helper()
	if s.Build == nil {
		t.Errorf("%s is not built from the Dockerfile", name)
		return
	}
	if s.Build.Context != "." {
		t.Errorf("%s build context = %q, want .", name, s.Build.Context)
	}
	if s.Build.Dockerfile != "" && s.Build.Dockerfile != "Dockerfile" {
		t.Errorf("%s is built from %q, want Dockerfile", name, s.Build.Dockerfile)
	}
}

// configVariables returns every environment variable the service reads,
// from config.Keys.
func configVariables() map[string]config.Key {
	vars := map[string]config.Key{}
	for _, k := range config.Keys() {
		for _, env := range k.Env {
			vars[env] = k
		}
	}
	return vars
}

// unknownConfigVariables returns the names in env that look like the
// service's configuration (ACCOUNTS_* or DATABASE_URL) but that no key reads:
// a typo there is silently ignored by the service.
func unknownConfigVariables(env environment, known map[string]config.Key) []string {
	var unknown []string
	for name := range env {
		if !strings.HasPrefix(name, config.EnvPrefix) && name != "DATABASE_URL" {
			continue
		}
		if _, ok := known[name]; !ok {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	return unknown
}

func TestUnknownConfigVariablesCatchesTypos(t *testing.T) {
	t.Parallel()
	env := environment{
		"ACCOUNTS_DATABASE_HOST":    "db",
		"DATABASE_URL":              "postgres://db/app",
		"ACCOUNTS_DATABASE_PASSWRD": "x",
		"ACCOUNTS_HTTP_PORT":        "8080",
		"POSTGRES_USER":             "ignored: not the service's",
	}
	got := unknownConfigVariables(env, configVariables())
	if want := []string{"ACCOUNTS_DATABASE_PASSWRD", "ACCOUNTS_HTTP_PORT"}; !slices.Equal(got, want) {
		t.Errorf("unknownConfigVariables = %v, want %v", got, want)
	}
}

func TestComposeSetsOnlyRealConfigKeys(t *testing.T) {
	t.Parallel()
	f, _ := loadCompose(t)
	known := configVariables()
	for name, s := range f.Services {
		for _, v := range unknownConfigVariables(s.Environment, known) {
			t.Errorf("service %s sets %s, which no configuration key reads (see `accounts config show`)", name, v)
		}
	}
}

func TestComposeAppAndMigrateReachTheDatabaseService(t *testing.T) {
	t.Parallel()
	f, _ := loadCompose(t)
	db := f.Services["db"]
	for _, name := range []string{"migrate", "app"} {
		env := f.Services[name].Environment
		if url, ok := env["DATABASE_URL"]; ok {
			if !strings.Contains(url, "@db:") && !strings.Contains(url, "@db/") {
				t.Errorf("%s DATABASE_URL = %q does not point at the db service", name, url)
			}
			continue
		}
		if host := env["ACCOUNTS_DATABASE_HOST"]; host != "db" {
			t.Errorf("%s ACCOUNTS_DATABASE_HOST = %q, want db (the service name)", name, host)
		}
		if p, ok := env["ACCOUNTS_DATABASE_PORT"]; ok && p != "5432" {
			t.Errorf("%s ACCOUNTS_DATABASE_PORT = %q; inside the network PostgreSQL listens on 5432", name, p)
		}
		// The service must log in with what db was initialised with: the
		// same expressions, so one .env drives both; migrate as the owner
		// of the schema, app as the runtime role, never the superuser.
		role := map[string]string{"migrate": "DB_OWNER", "app": "DB_APP"}[name]
		pairs := map[string]string{
			"ACCOUNTS_DATABASE_USER":     role + "_USER",
			"ACCOUNTS_DATABASE_PASSWORD": role + "_PASSWORD",
			"ACCOUNTS_DATABASE_NAME":     "POSTGRES_DB",
		}
		for accountsVar, postgresVar := range pairs {
			if got, want := env[accountsVar], db.Environment[postgresVar]; got != want {
				t.Errorf("%s %s = %q, but db %s = %q: they must be the same", name, accountsVar, got, postgresVar, want)
			}
		}
	}
}
