package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// profileJSON is a user with the profile fields.
type profileJSON struct {
	userJSON
	DisplayName *string `json:"display_name"`
}

// mergePatch sends a JSON merge patch, with If-Match when etag is not "".
func mergePatch(c *client, path, body, etag string) *response {
	c.s.t.Helper()
	h := map[string]string{"Content-Type": "application/merge-patch+json"}
	if etag != "" {
		h["If-Match"] = etag
	}
	return c.do("PATCH", path, nil, opts{rawBody: []byte(body), header: h})
}

// readWithETag reads a user and its ETag, which must be a strong one.
func readWithETag(t *testing.T, c *client, path string) (profileJSON, string) {
	t.Helper()
	r := c.do("GET", path, nil)
	expect(t, r, http.StatusOK)
	var u profileJSON
	r.json(t, &u)
	etag := r.Header.Get("ETag")
	if len(etag) < 3 || etag[0] != '"' || etag[len(etag)-1] != '"' {
		t.Fatalf("GET %s: ETag %q is not a strong entity tag", path, etag)
	}
	return u, etag
}

// TestPatchOwnProfile checks PATCH /account: a merge patch sets and
// clears display_name, refuses role, activity and password, checks the
// field's rule, and honours If-Match; GET /account answers 304 to its ETag.
func TestPatchOwnProfile(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	user := s.newClient(false)
	user.signUp("alice1", "alice-password-1")
	user.login("alice1", "alice-password-1")
	before, e1 := readWithETag(t, user, "/api/v1/account")
	if before.DisplayName != nil {
		t.Fatalf("display_name %q before any patch", *before.DisplayName)
	}
	r := user.do("GET", "/api/v1/account", nil, opts{header: map[string]string{"If-None-Match": e1}})
	expect(t, r, http.StatusNotModified)
	if len(r.body) != 0 || r.Header.Get("ETag") != e1 {
		t.Fatalf("304 with body %q and ETag %q", r.body, r.Header.Get("ETag"))
	}

	r = mergePatch(user, "/api/v1/account", `{"display_name":"Alice Liddell"}`, "")
	expect(t, r, http.StatusOK)
	var after profileJSON
	r.json(t, &after)
	e2 := r.Header.Get("ETag")
	if after.DisplayName == nil || *after.DisplayName != "Alice Liddell" || e2 == e1 || e2 == "" {
		t.Fatalf("after the patch: %s, ETag %q (was %q)", r.body, e2, e1)
	}
	if _, etag := readWithETag(t, user, "/api/v1/account"); etag != e2 {
		t.Fatalf("GET answers ETag %q, the patch answered %q", etag, e2)
	}
	expect(t, user.do("GET", "/api/v1/account", nil, opts{header: map[string]string{"If-None-Match": e1}}), http.StatusOK)

	// Not profile fields: unknown members of the patch, refused whole.
	for _, body := range []string{`{"role":"admin"}`, `{"is_active":false}`, `{"password":"new-password-1"}`, `{"display_name":5}`, `[]`} {
		expect(t, mergePatch(user, "/api/v1/account", body, ""), http.StatusBadRequest, "invalid_json")
	}
	for _, name := range []string{"", strings.Repeat("é", 65), "tab\there"} {
		r := mergePatch(user, "/api/v1/account", `{"display_name":"`+strings.ReplaceAll(name, "\t", `\t`)+`"}`, "")
		expect(t, r, http.StatusUnprocessableEntity, "validation_failed")
		if p := r.problem(t); len(p.Errors) != 1 || p.Errors[0].Field != "display_name" {
			t.Fatalf("%q: %s", name, r.body)
		}
	}
	expect(t, user.do("PATCH", "/api/v1/account", map[string]any{"display_name": "x"}), http.StatusUnsupportedMediaType, "unsupported_media_type")

	// If-Match: a stale tag is 412 and changes nothing; the current one, or *, passes.
	expect(t, mergePatch(user, "/api/v1/account", `{"display_name":null}`, e1), http.StatusPreconditionFailed, "precondition_failed")
	expect(t, mergePatch(user, "/api/v1/account", `{"display_name":null}`, `W/`+e2), http.StatusPreconditionFailed, "precondition_failed")
	r = mergePatch(user, "/api/v1/account", `{"display_name":null}`, e2)
	expect(t, r, http.StatusOK)
	var cleared profileJSON
	r.json(t, &cleared)
	if cleared.DisplayName != nil {
		t.Fatalf("null did not clear: %s", r.body)
	}
	expect(t, mergePatch(user, "/api/v1/account", `{"display_name":"Alice"}`, "*"), http.StatusOK)

	// A patch that changes nothing writes nothing.
	now, etag := readWithETag(t, user, "/api/v1/account")
	time.Sleep(5 * time.Millisecond)
	expect(t, mergePatch(user, "/api/v1/account", `{"display_name":"Alice"}`, ""), http.StatusOK)
	expect(t, mergePatch(user, "/api/v1/account", `{}`, ""), http.StatusOK)
	if again, tag := readWithETag(t, user, "/api/v1/account"); !again.UpdatedAt.Equal(now.UpdatedAt) || tag != etag {
		t.Fatal("a patch that changes nothing wrote")
	}
	if n := s.queryInt(`SELECT count(*) FROM audit_events WHERE action = 'user.profile_changed'`); n != 3 {
		t.Fatalf("%d profile_changed entries, want 3 (set, clear, set)", n)
	}

	// A browser (the session in its cookie) patches too: a merge patch
	// passes the CSRF check as JSON does.
	browser := s.newClient(true)
	browser.login("alice1", "alice-password-1")
	expect(t, mergePatch(browser, "/api/v1/account", `{"display_name":"From a browser"}`, ""), http.StatusOK)
}

// TestPatchUserProfile checks PATCH /users/{id}: If-Match required (428),
// the role hierarchy, and the audit entry with the field before and after.
func TestPatchUserProfile(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	root, rootID := s.as(nil, "super_admin", "root1")
	admin, adminID := s.as(root, "admin", "admin1")
	user, userID := s.as(nil, "user", "bob.b")
	path := "/api/v1/users/" + userID
	_, e1 := readWithETag(t, admin, path)
	expect(t, admin.do("GET", path, nil, opts{header: map[string]string{"If-None-Match": `"other", ` + e1}}), http.StatusNotModified)

	expect(t, mergePatch(admin, path, `{"display_name":"Bob"}`, ""), http.StatusPreconditionRequired, "precondition_required")
	expect(t, mergePatch(admin, path, `{"display_name":"Bob"}`, `"stale"`), http.StatusPreconditionFailed, "precondition_failed")
	_, rootTag := readWithETag(t, root, "/api/v1/users/"+rootID)
	expect(t, mergePatch(admin, "/api/v1/users/"+rootID, `{"display_name":"Root"}`, rootTag), http.StatusForbidden, "forbidden")
	_, adminTag := readWithETag(t, root, "/api/v1/users/"+adminID)
	expect(t, mergePatch(admin, "/api/v1/users/"+adminID, `{"display_name":"Me"}`, adminTag), http.StatusForbidden, "forbidden")
	expect(t, mergePatch(user, path, `{"display_name":"Bob"}`, e1), http.StatusForbidden, "forbidden")
	expect(t, mergePatch(admin, path, `{"role":"admin"}`, e1), http.StatusBadRequest, "invalid_json")

	r := mergePatch(admin, path, `{"display_name":"Bob Builder"}`, e1)
	expect(t, r, http.StatusOK)
	var got profileJSON
	r.json(t, &got)
	if got.DisplayName == nil || *got.DisplayName != "Bob Builder" {
		t.Fatalf("after the patch: %s", r.body)
	}
	// The user sees it; the admin's old tag is stale now.
	if own, _ := readWithETag(t, user, "/api/v1/account"); own.DisplayName == nil || *own.DisplayName != "Bob Builder" {
		t.Fatalf("the user reads %v", own.DisplayName)
	}
	expect(t, mergePatch(admin, path, `{"display_name":null}`, e1), http.StatusPreconditionFailed, "precondition_failed")
	expect(t, mergePatch(admin, path, `{"display_name":null}`, r.Header.Get("ETag")), http.StatusOK)
	details := s.queryString(`SELECT string_agg(details::text, ' | ' ORDER BY occurred_at) FROM audit_events WHERE action = 'user.profile_changed' AND target_id = $1 AND actor_id = $2`, userID, adminID)
	if want := `{"display_name.to": "Bob Builder", "display_name.from": ""} | {"display_name.to": "", "display_name.from": "Bob Builder"}`; details != want {
		t.Fatalf("audit details %s, want %s", details, want)
	}
}

// TestIfMatchOnEveryWrite checks that the other writes to a user honour
// If-Match: a stale tag is 412 and changes nothing, the current one passes.
func TestIfMatchOnEveryWrite(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	root, _ := s.as(nil, "super_admin", "root1")
	user := s.newClient(false)
	userID := user.signUp("erin.f", "erin-password-1")
	user.login("erin.f", "erin-password-1")
	path := "/api/v1/users/" + userID
	_, stale := readWithETag(t, root, path)
	expect(t, mergePatch(root, path, `{"display_name":"Erin"}`, stale), http.StatusOK)
	for _, w := range []struct{ method, path string }{
		{"PUT", path + "/roles/admin"}, {"DELETE", path + "/activation"}, {"DELETE", path},
	} {
		r := root.do(w.method, w.path, nil, opts{header: map[string]string{"If-Match": stale}})
		expect(t, r, http.StatusPreconditionFailed, "precondition_failed")
	}
	expect(t, root.do("PUT", path+"/password", map[string]string{"password": "erin-password-2"}, opts{header: map[string]string{"If-Match": stale}}), http.StatusPreconditionFailed, "precondition_failed")
	if u, _ := readWithETag(t, root, path); u.Role != "user" || !u.IsActive {
		t.Fatalf("a refused write changed the user: %+v", u)
	}
	expect(t, user.do("GET", "/api/v1/account", nil), http.StatusOK)
	expect(t, user.do("PUT", "/api/v1/account/password", map[string]string{"current_password": "x-wrong", "new_password": "erin-password-3"}, opts{header: map[string]string{"If-Match": stale}}), http.StatusForbidden, "wrong_password")
	s.addSecret("erin-password-3")
	expect(t, user.do("PUT", "/api/v1/account/password", map[string]string{"current_password": "erin-password-1", "new_password": "erin-password-3"}, opts{header: map[string]string{"If-Match": stale}}), http.StatusPreconditionFailed, "precondition_failed")
	expect(t, user.do("GET", "/api/v1/account", nil), http.StatusOK) // the session lives: nothing changed
	_, own := readWithETag(t, user, "/api/v1/account")
	expect(t, user.do("PUT", "/api/v1/account/password", map[string]string{"current_password": "erin-password-1", "new_password": "erin-password-3"}, opts{header: map[string]string{"If-Match": own}}), http.StatusOK)

	_, current := readWithETag(t, root, path)
	expect(t, root.do("PUT", path+"/roles/admin", nil, opts{header: map[string]string{"If-Match": current}}), http.StatusNoContent)
	_, current = readWithETag(t, root, path)
	expect(t, root.do("DELETE", path, nil, opts{header: map[string]string{"If-Match": current}}), http.StatusNoContent)
}

// TestIfMatchUnderRace sends concurrent patches that all carry the same
// ETag: the precondition is held on the locked row, so exactly one wins
// and the others answer 412, never a lost update.
func TestIfMatchUnderRace(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	root, _ := s.as(nil, "super_admin", "root1")
	_, userID := s.as(nil, "user", "ivan.r")
	path := "/api/v1/users/" + userID
	_, etag := readWithETag(t, root, path)
	const n = 8
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			statuses <- mergePatch(root, path, fmt.Sprintf(`{"display_name":"Racer %d"}`, i), etag).StatusCode
		})
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for st := range statuses {
		count[st]++
	}
	if count[http.StatusOK] != 1 || count[http.StatusPreconditionFailed] != n-1 {
		t.Fatalf("statuses %v, want one 200 and %d 412", count, n-1)
	}
	if k := s.queryInt(`SELECT count(*) FROM audit_events WHERE action = 'user.profile_changed' AND target_id = $1`, userID); k != 1 {
		t.Fatalf("%d profile changes recorded, want 1", k)
	}
}
