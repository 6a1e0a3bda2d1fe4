package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestComposeTopLevelKeysWorkWithCompose1: Debian 12's docker-compose
// (1.29) refuses any top-level key but services, volumes, networks,
// secrets, configs, version and x-* extensions ("'name' does not match
// any of the regexes: '^x-'"); v2 takes them too.
func TestComposeTopLevelKeysWorkWithCompose1(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]any
	if err := yaml.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	for key := range top {
		switch {
		case strings.HasPrefix(key, "x-"), key == "services", key == "volumes", key == "networks", key == "secrets", key == "configs":
		default:
			t.Errorf("top-level key %q: docker-compose 1.29 refuses it", key)
		}
	}
}

// TestDockerCompose129AcceptsTheFile runs `docker-compose config` (Debian's
// docker-compose 1.29; .ci/run installs it) on the file with the values
// of .env.example, as a user would after `cp .env.example .env`.
func TestDockerCompose129AcceptsTheFile(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("docker-compose is not installed (apt-get install docker-compose)")
		}
		t.Skip("no docker-compose (apt-get install docker-compose)")
	}
	example, err := os.ReadFile("../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	env := filepath.Join(t.TempDir(), ".env")
	// .env.example leaves the pepper to the user; any value will do here.
	filled := regexp.MustCompile(`(?m)^PASSWORD_PEPPER=.*$`).ReplaceAll(example, []byte("PASSWORD_PEPPER=test-pepper"))
	if err := os.WriteFile(env, filled, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--env-file", env, "-f", "docker-compose.yml", "config", "--quiet")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, out)
	}
}

// TestDockerfileHealthcheckAndMetricsPort: the image probes itself with
// `accounts healthcheck`, exposes the metrics port beside the API's, and
// says how a plain `docker run` reaches it.
func TestDockerfileHealthcheckAndMetricsPort(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^HEALTHCHECK (?:.*\\\n)*.*CMD \["/usr/local/bin/accounts", "healthcheck"\]`),
		regexp.MustCompile(`(?m)^EXPOSE 8080 3097$`),
		regexp.MustCompile(`docker run .*-e ACCOUNTS_METRICS_ADDR=:3097 -p 127\.0\.0\.1:3097:3097`),
	} {
		if !want.MatchString(df) {
			t.Errorf("the Dockerfile lacks %s", want)
		}
	}
}

// TestDockerignoreMatchesItsComment: the build context holds exactly what
// the comment at the top of .dockerignore lists, among the repository's
// top-level entries.
func TestDockerignoreMatchesItsComment(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^# Only what .* needs goes into the build context:\n# (.*)\.$`).FindSubmatch(b)
	if m == nil {
		t.Fatal(".dockerignore has no comment listing the build context")
	}
	listed := map[string]bool{}
	for _, p := range strings.Split(string(m[1]), ", ") {
		listed[strings.TrimSuffix(p, "/")] = true
	}
	entries, err := os.ReadDir("..")
	if err != nil {
		t.Fatal(err)
	}
	patterns := readDockerignore(t)
	for _, e := range entries {
		if ignored := dockerignored(patterns, e.Name()); ignored == listed[e.Name()] {
			t.Errorf("%s: in the build context = %v, but the comment says %v", e.Name(), !ignored, listed[e.Name()])
		}
	}
}
