package httpapi

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"accounts/internal/account"
)

// adminActions names the domain action each operation with an
// x-required-role asks account.Authorize about, so that the role the
// document declares is checked against the one the domain enforces.
var adminActions = map[string]account.Action{
	"createUser":      account.ActionCreateUser,
	"listUsers":       account.ActionViewUsers,
	"getUser":         account.ActionViewUsers,
	"setUserPassword": account.ActionSetPassword,
	"grantAdmin":      account.ActionGrantAdmin,
	"revokeAdmin":     account.ActionRevokeAdmin,
	"activate":        account.ActionActivate,
	"deactivate":      account.ActionDeactivate,
	"deleteUser":      account.ActionDeactivate,
	"patchUser":       account.ActionEditProfile,
	"endUserSessions": account.ActionEndSessions,
}

// TestRequiredRoleIsWhatTheDomainEnforces: the x-required-role of every
// admin operation is the least role account.Authorize lets act on a plain
// user, so the document never promises an admin what answers 403.
func TestRequiredRoleIsWhatTheDomainEnforces(t *testing.T) {
	t.Parallel()
	doc := loadDocument(t)
	target := account.User{ID: uuid.New(), Role: account.RoleUser, IsActive: true}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			declared, _ := op.Extensions["x-required-role"].(string)
			if op.OperationID == "listAudit" {
				continue // no domain action: super admins only, checked by the validator alone
			}
			action, ok := adminActions[op.OperationID]
			if declared == "" && !ok {
				continue
			}
			if !ok {
				t.Errorf("%s %s (%s) declares x-required-role %q but has no row in adminActions", method, path, op.OperationID, declared)
				continue
			}
			least := ""
			for _, r := range []account.Role{account.RoleAdmin, account.RoleSuperAdmin} {
				caller := account.User{ID: uuid.New(), Role: r, IsActive: true}
				if account.Authorize(caller, action, target) == nil {
					least = string(r)
					break
				}
			}
			if declared != least {
				t.Errorf("%s %s (%s): x-required-role %q, but the domain lets %q act", method, path, op.OperationID, declared, least)
			}
		}
	}
}

// TestDocsEndpointTable: every row of docs/api.md's API table names
// operations of the document (with the base path), every operation has a
// row, and the "who" column says what the document requires.
func TestDocsEndpointTable(t *testing.T) {
	t.Parallel()
	doc := loadDocument(t)
	listed := docsListedOperations(t, doc, docsAPITable(t))
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			key := method + " " + path
			who, ok := listed[key]
			if !ok {
				t.Errorf("docs/api.md's API table lacks %s", key)
				continue
			}
			if want := documentedWho(op); !strings.HasPrefix(who, want) {
				t.Errorf("docs/api.md says %s is for %q; the document says %q", key, who, want)
			}
		}
	}
}

// docsAPITable returns docs/api.md's api-table section, failing the test
// when there is none.
func docsAPITable(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	start := strings.Index(doc, "<!-- api-table")
	end := strings.Index(doc, "<!-- /api-table -->")
	if start < 0 || end < start {
		t.Fatal("docs/api.md has no api-table section")
	}
	return doc[start:end]
}

// docsOpRe matches one cell's operations: methods joined by `/` and a
// path without the base path.
var docsOpRe = regexp.MustCompile("`((?:GET|POST|PUT|PATCH|DELETE)(?:`/`(?:GET|POST|PUT|PATCH|DELETE))*) (/[^` ?]*)")

// docsListedOperations maps "METHOD /path" of every operation the
// table's rows name to the row's who column, reporting rows without that
// column and operations the document does not have.
func docsListedOperations(t *testing.T, doc *openapi3.T, table string) map[string]string {
	t.Helper()
	listed := map[string]string{}
	for _, line := range strings.Split(table, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(line, " | ")
		if len(cells) < 3 {
			t.Errorf("docs/api.md row %q has no who column", line)
			continue
		}
		for _, m := range docsOpRe.FindAllStringSubmatch(cells[0], -1) {
			path := m[2]
			if !strings.HasPrefix(path, "/livez") && !strings.HasPrefix(path, "/readyz") && !strings.HasPrefix(path, "/metrics") && !strings.HasPrefix(path, "/openapi.json") {
				path = "/api/v1" + path
			}
			for _, method := range strings.Split(m[1], "`/`") {
				key := method + " " + path
				item := doc.Paths.Find(path)
				if item == nil || item.GetOperation(method) == nil {
					t.Errorf("docs/api.md lists %s, which the document does not have", key)
					continue
				}
				listed[key] = cells[1]
			}
		}
	}
	return listed
}

// documentedWho is how docs/api.md's who column starts for op, from what
// the document requires of its caller.
func documentedWho(op *openapi3.Operation) string {
	want := map[string]string{"admin": "admins", "super_admin": "super admins"}[asString(op.Extensions["x-required-role"])]
	switch {
	case op.Extensions["x-anonymous-only"] == true:
		want = "anyone not logged in"
	case want == "" && op.Security != nil && len(*op.Security) > 0:
		want = "logged in"
	case want == "":
		want = "anyone"
	}
	return want
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}

// TestNoBadArticle: the domain's messages say "an admin", never "a admin".
func TestNoBadArticle(t *testing.T) {
	t.Parallel()
	caller := account.User{ID: uuid.New(), Role: account.RoleAdmin, IsActive: true}
	for _, target := range []account.User{{ID: uuid.New(), Role: account.RoleAdmin}, {ID: uuid.New(), Role: account.RoleSuperAdmin}} {
		for _, action := range []account.Action{account.ActionCreateUser, account.ActionSetPassword} {
			err := account.Authorize(caller, action, target)
			if err == nil {
				continue
			}
			if msg := err.Error(); slices.ContainsFunc([]string{"a admin", "a super_admin"}, func(s string) bool { return strings.Contains(msg, s) }) {
				t.Errorf("%s on a %s: %q", action, target.Role, msg)
			}
		}
	}
}

// TestEveryBodyHasAnExample: every request body and every response body
// of the document has an example, for Swagger UI's "Try it out" and for
// readers, and each example is valid against its schema.
func TestEveryBodyHasAnExample(t *testing.T) {
	t.Parallel()
	doc := loadDocument(t)
	check := func(where string, content openapi3.Content) {
		for mt, media := range content {
			if media.Example == nil {
				t.Errorf("%s %s has no example", where, mt)
				continue
			}
			if media.Schema == nil || media.Schema.Value == nil {
				continue
			}
			if err := media.Schema.Value.VisitJSON(media.Example); err != nil {
				t.Errorf("%s %s: the example does not match the schema: %v", where, mt, err)
			}
		}
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody != nil {
				check(method+" "+path+" request", op.RequestBody.Value.Content)
			}
			for status, r := range op.Responses.Map() {
				check(method+" "+path+" "+status, r.Value.Content)
			}
		}
	}
}

// TestDocsCapabilityTable: every operation the accounts column of
// docs/api.md's capability table names is one the document has, so the
// comparison with Supabase Auth and Ory Kratos cannot claim an endpoint
// this API lacks.
func TestDocsCapabilityTable(t *testing.T) {
	t.Parallel()
	doc := loadDocument(t)
	raw, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	start, end := strings.Index(text, "<!-- capability-table"), strings.Index(text, "<!-- /capability-table -->")
	if start < 0 || end < start {
		t.Fatal("docs/api.md has no capability-table section")
	}
	named := 0
	for _, line := range strings.Split(text[start:end], "\n") {
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if !strings.HasPrefix(line, "| ") || len(cells) != 4 || cells[0] == "capability" {
			continue
		}
		for _, m := range docsOpRe.FindAllStringSubmatch(cells[3], -1) {
			if item := doc.Paths.Find("/api/v1" + m[2]); item == nil || item.GetOperation(m[1]) == nil {
				t.Errorf("the capability table names %s %s, which the document does not have", m[1], m[2])
			}
			named++
		}
	}
	if named < 10 {
		t.Errorf("the capability table's accounts column names %d operations; want every row's", named)
	}
}
