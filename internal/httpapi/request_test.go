package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"

	"accounts/internal/account"
)

// The tests of this file drive the whole engine, middleware and generated
// handlers, over services that stand in for the domain: they check what
// the document makes of a request before any service runs.

// stubSessions knows two tokens: "admin" and "user".
type stubSessions struct{ SessionService }

func (stubSessions) AuthenticateReading(_ context.Context, token string, _ uuid.UUID) (account.Principal, error) {
	switch token {
	case "admin":
		return account.Principal{User: account.User{ID: uuid.New(), Role: account.RoleAdmin, IsActive: true}}, nil
	case "user":
		return account.Principal{User: account.User{ID: uuid.New(), Role: account.RoleUser, IsActive: true}}, nil
	}
	return account.Principal{}, account.Errorf(account.CodeUnauthenticated, "no such session")
}

// stubUsers applies the domain's own rules to what reaches it, so a test
// can tell the document's checks from the service's.
type stubUsers struct {
	UserService
	// reached records the last sign-up that got through.
	reached func(username, pw string)
}

func (u stubUsers) SignUp(_ context.Context, n account.NewUser) (account.User, error) {
	if u.reached != nil {
		u.reached(n.Username, n.Password)
	}
	return account.User{ID: uuid.New(), Username: n.Username, Role: account.RoleUser, IsActive: true}, nil
}

func (stubUsers) List(_ context.Context, _ account.User, p account.ListParams) (account.Page, error) {
	if err := p.Validate(); err != nil {
		return account.Page{}, err
	}
	return account.Page{Limit: p.Limit, Offset: p.Offset, TotalExact: true}, nil
}

func (stubUsers) Get(context.Context, account.Principal, uuid.UUID) (account.User, error) {
	return account.User{}, account.Errorf(account.CodeUserNotFound, "no user has this id")
}

func stubEngine(t testing.TB, users stubUsers) http.Handler {
	t.Helper()
	h, err := New(Deps{Users: users, Sessions: stubSessions{}, Log: slog.New(slog.DiscardHandler), Config: Config{MaxBodyBytes: 1 << 10}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

type answer struct {
	status int
	p      Problem
}

func send(h http.Handler, method, target, token, contentType, body string) answer {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	a := answer{status: rec.Code}
	if rec.Header().Get("Content-Type") == "application/problem+json" {
		_ = json.Unmarshal(rec.Body.Bytes(), &a.p)
	}
	return a
}

func (a answer) fields() []string {
	var f []string
	for _, e := range a.p.Errors {
		f = append(f, e.Field)
	}
	return f
}

// TestRequestChecksFollowTheDocument: each check of validate.go, in its
// order, with the status, code and fields it answers.
func TestRequestChecksFollowTheDocument(t *testing.T) {
	t.Parallel()
	h := stubEngine(t, stubUsers{})
	const js = "application/json"
	id := "0192d4e0-7c1a-7b3e-9f00-123456789abc"
	for _, tc := range []struct {
		method, target, token, ct, body string
		status                          int
		code                            account.Code
		fields                          []string
	}{
		{"POST", "/api/v1/account/signup", "", js, `{"username":"alice","password":"alice-password"}`, 201, "", nil},
		{"POST", "/api/v1/account/signup", "", js, `{"username":"a.","password":"short"}`, 422, account.CodeValidationFailed, []string{"username", "password"}},
		{"POST", "/api/v1/account/signup", "", js, `{"password":"alice-password"}`, 422, account.CodeValidationFailed, []string{"username"}},
		{"POST", "/api/v1/account/signup", "", js, `{"username":"alice","password":"alice-password","admin":true}`, 400, account.CodeInvalidJSON, []string{"admin"}},
		{"POST", "/api/v1/account/signup", "", js, `{"Username":"alice","password":"alice-password"}`, 400, account.CodeInvalidJSON, []string{"Username"}},
		{"POST", "/api/v1/account/signup", "", js, `{"username":42,"password":"alice-password"}`, 400, account.CodeInvalidJSON, []string{"username"}},
		{"POST", "/api/v1/account/signup", "", js, `[]`, 400, account.CodeInvalidJSON, nil},
		{"POST", "/api/v1/account/signup", "", js, `null`, 400, account.CodeInvalidJSON, nil},
		{"POST", "/api/v1/account/signup", "", "text/plain", `{}`, 415, account.CodeUnsupportedMediaType, nil},
		{"POST", "/api/v1/account/signup", "", js, `{"username":"` + strings.Repeat("a", 2000) + `"}`, 413, account.CodeBodyTooLarge, nil},
		{"POST", "/api/v1/account/signup", "user", js, `{"username":"alice","password":"alice-password"}`, 403, account.CodeAlreadyAuthenticated, nil},
		{"POST", "/api/v1/users", "admin", js, `{"username":"bobby","password":"bob-password","role":1}`, 400, account.CodeInvalidJSON, []string{"role"}},
		{"POST", "/api/v1/users", "admin", js, `{"username":"bobby","password":"bob-password","role":"super_admin"}`, 422, account.CodeValidationFailed, []string{"role"}},
		// The role check comes before the body: a plain user learns nothing.
		{"POST", "/api/v1/users", "user", js, `{"username":"b"}`, 403, account.CodeForbidden, nil},
		{"POST", "/api/v1/users", "", js, `{"username":"b"}`, 401, account.CodeUnauthenticated, nil},
		{"GET", "/api/v1/users?limit=0&sort=password_hash", "admin", "", "", 422, account.CodeValidationFailed, []string{"limit", "sort"}},
		{"GET", "/api/v1/users?limit=x", "admin", "", "", 422, account.CodeValidationFailed, []string{"limit"}},
		{"GET", "/api/v1/users?is_active=yes", "admin", "", "", 422, account.CodeValidationFailed, []string{"is_active"}},
		{"GET", "/api/v1/users?limit=0", "user", "", "", 403, account.CodeForbidden, nil},
		{"GET", "/api/v1/users?after=nope", "admin", "", "", 422, account.CodeValidationFailed, []string{"after"}},
		{"GET", "/api/v1/users?limit=5&sort=role&order=desc&role=admin&is_active=true", "admin", "", "", 200, "", nil},
		// The path comes before the session: no lookup for a malformed id.
		{"GET", "/api/v1/users/nope", "", "", "", 422, account.CodeValidationFailed, []string{"id"}},
		{"GET", "/api/v1/users/" + id, "", "", "", 401, account.CodeUnauthenticated, nil},
		{"GET", "/api/v1/users/" + strings.ToUpper(id), "admin", "", "", 404, account.CodeUserNotFound, nil},
		{"GET", "/livez", "", "", "", 200, "", nil},
	} {
		a := send(h, tc.method, tc.target, tc.token, tc.ct, tc.body)
		if a.status != tc.status || a.p.Code != tc.code || !slices.Equal(a.fields(), tc.fields) {
			t.Errorf("%s %s %s: %d %s %v (%s), want %d %s %v", tc.method, tc.target, tc.body[:min(len(tc.body), 60)],
				a.status, a.p.Code, a.fields(), a.p.Detail, tc.status, tc.code, tc.fields)
		}
	}
}

// FuzzSignUpBody: whatever the body, the answer is a client error or 201,
// never a 500; what passes the document also passes the domain's rules,
// and a well-formed body the domain accepts is not refused by the
// document, so openapi.yaml and account.Validate* agree.
func FuzzSignUpBody(f *testing.F) {
	for _, seed := range []string{`{"username":"alice","password":"alice-password"}`, `{"username":"a..b","password":"x"}`,
		`{"username":"alice","password":"` + strings.Repeat("é", 128) + `"}`, `{}`, `[`, `{"a":1}`, `"x"`, "\xff", `{"username":"al_ic-e.5","password":"12345678"}`,
		"{\"username\":\"alice\",\"password\":\"ali\xd9\xd9ce-password\"}"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var reached bool
		h := stubEngine(t, stubUsers{reached: func(username, pw string) {
			reached = true
			if msg := account.ValidateUsername(username); msg != "" {
				t.Fatalf("%q: the document let through a username the domain refuses: %s", body, msg)
			}
			if msg := account.ValidatePassword(pw); msg != "" {
				t.Fatalf("%q: the document let through a password the domain refuses: %s", body, msg)
			}
		}})
		a := send(h, "POST", "/api/v1/account/signup", "", "application/json", body)
		switch a.status {
		case 201, 400, 413, 422:
		default:
			t.Fatalf("%q: status %d (%s)", body, a.status, a.p.Detail)
		}
		if (a.status == 201) != reached {
			t.Fatalf("%q: status %d, service reached %v", body, a.status, reached)
		}
		// A body that is not UTF-8 is refused whole, before the domain: JSON
		// decoding would turn its bytes into U+FFFD, so different passwords
		// would read the same (issue 12, finding 10).
		if !utf8.ValidString(body) {
			if a.status != 413 && (a.status != 400 || a.p.Code != "invalid_json") {
				t.Fatalf("%q: body is not UTF-8, status %d %s, want 400 invalid_json", body, a.status, a.p.Code)
			}
			return
		}
		var v map[string]any
		if json.Unmarshal([]byte(body), &v) != nil || len(v) != 2 {
			return
		}
		name, ok1 := v["username"].(string)
		pw, ok2 := v["password"].(string)
		if ok1 && ok2 && account.ValidateUsername(name) == "" && account.ValidatePassword(pw) == "" && len(body) < 1<<10 && a.status != 201 {
			t.Fatalf("%q: the domain accepts it, the document answered %d %v", body, a.status, a.fields())
		}
	})
}

// FuzzListQuery: any query string of GET /users gives 200 or a 422 that
// names parameters of the operation, or ones it refuses as unknown, or the
// query as malformed; never another status.
func FuzzListQuery(f *testing.F) {
	for _, seed := range []string{"", "limit=5&offset=3&sort=username&order=desc", "limit=x", "role=admin&is_active=true", "sort=%27;--",
		"after=eyJzIjoidXNlcm5hbWUiLCJrIjoiYSIsImlkIjoiMDE5MmQ0ZTAtN2MxYS03YjNlLTlmMDAtMTIzNDU2Nzg5YWJjIn0", "limit=1&limit=2", "%zz", "offset=-1&after=x", "sort="} {
		f.Add(seed)
	}
	h := stubEngine(f, stubUsers{})
	params := []string{"limit", "offset", "sort", "order", "role", "is_active", "after", "username"}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		u := url.URL{Path: "/api/v1/users", RawQuery: rawQuery}
		if strings.ContainsFunc(rawQuery, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '#' }) {
			return // not a query a client can send as such
		}
		a := send(h, "GET", u.String(), "admin", "", "")
		switch a.status {
		case 200:
		case 422:
			if len(a.p.Errors) == 0 {
				t.Fatalf("%q: 422 without fields", rawQuery)
			}
			for _, f := range a.p.Errors {
				known := slices.Contains(params, f.Field) || f.Message == "is not a known parameter" ||
					f.Field == "query" && f.Message == malformedQuery
				if !known {
					t.Fatalf("%q: error names unknown field %q", rawQuery, f.Field)
				}
			}
		default:
			t.Fatalf("%q: status %d %s", rawQuery, a.status, a.p.Detail)
		}
	})
}

// FuzzPathID: the id of /users/{id} is accepted exactly in the canonical
// 36-character UUID form, before any session lookup: anything else is a
// 422 naming id.
func FuzzPathID(f *testing.F) {
	for _, seed := range []string{"0192d4e0-7c1a-7b3e-9f00-123456789abc", "0192D4E0-7C1A-7B3E-9F00-123456789ABC", "nope",
		"{0192d4e0-7c1a-7b3e-9f00-123456789abc}", "urn:uuid:0192d4e0-7c1a-7b3e-9f00-123456789abc", "0192d4e07c1a7b3e9f00123456789abc", "' OR 1=1--"} {
		f.Add(seed)
	}
	h := stubEngine(f, stubUsers{})
	f.Fuzz(func(t *testing.T, raw string) {
		if raw == "" || strings.ContainsAny(raw, "/?#%") {
			return // another route, or not one path segment
		}
		a := send(h, "GET", "/api/v1/users/"+url.PathEscape(raw), "", "", "")
		_, err := uuid.Parse(raw)
		if err == nil && len(raw) == 36 {
			if a.status != http.StatusUnauthorized {
				t.Fatalf("%q: status %d, want 401 (the id passes, the session does not)", raw, a.status)
			}
			return
		}
		if a.status != http.StatusUnprocessableEntity || a.p.Code != account.CodeValidationFailed || !slices.Equal(a.fields(), []string{"id"}) {
			t.Fatalf("%q: %d %s %v, want 422 naming id", raw, a.status, a.p.Code, a.fields())
		}
	})
}
