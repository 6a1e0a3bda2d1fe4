package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestDocsProfileEdit runs docs/api.md's curl example of a profile edit
// against a server, with TOKEN a super admin's and ID a user's: the first
// PATCH names the super admin, the second reads the user's ETag and clears
// the user's display name with it as If-Match.
func TestDocsProfileEdit(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed to run docs/api.md's example")
	}
	raw, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- profile-edit.*?```sh\n(.*?)```\n<!-- /profile-edit -->").FindSubmatch(raw)
	if m == nil {
		t.Fatal("docs/api.md has no profile-edit block")
	}
	s := startServer(t, nil)
	root, rootID := s.as(nil, "super_admin", "root1")
	_, userID := s.as(nil, "user", "heidi.k")
	_, etag := readWithETag(t, root, "/api/v1/users/"+userID)
	expect(t, mergePatch(root, "/api/v1/users/"+userID, `{"display_name":"Heidi"}`, etag), 200)

	script := strings.ReplaceAll(string(m[1]), "http://127.0.0.1:8080", s.base)
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Env = append(os.Environ(), "TOKEN="+root.token, "ID="+userID)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docs/api.md's block failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `"display_name":"Alice Liddell"`) || !strings.Contains(string(out), `"display_name":null`) {
		t.Fatalf("docs/api.md's block printed:\n%s", out)
	}
	if u, _ := readWithETag(t, root, "/api/v1/users/"+rootID); u.DisplayName == nil || *u.DisplayName != "Alice Liddell" {
		t.Errorf("the own patch left %v", u.DisplayName)
	}
	if u, _ := readWithETag(t, root, "/api/v1/users/"+userID); u.DisplayName != nil {
		t.Errorf("the admin's patch left %q", *u.DisplayName)
	}
}
