package baseline

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"accounts/internal/account"
	"accounts/internal/config"
	"accounts/internal/database"
	"accounts/internal/httpapi"
	"accounts/internal/password"
	"accounts/internal/testdb"
)

// TestBaselineAnswersLikeTheService checks that the baseline is a fair
// yardstick: behind the same router, GET /api/v1/users/{id} answers the
// same status and the same body as the real service, for a live admin
// session, an unknown id, an unknown token and a plain user. A baseline
// that answered differently (or did less work, such as skipping the
// authorization) would flatter or wrong the service in the benchmark.
func TestBaselineAnswersLikeTheService(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	settings := config.Default().Database
	settings.URL = testdb.URL(t)
	db, err := database.Open(ctx, settings, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	pool, err := OpenPool(ctx, settings, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	hasher, err := password.New(password.Options{
		Params: password.Params{Time: 1, MemoryKiB: 64, Threads: 1}, MaxConcurrent: 2, MaxWait: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	users := account.NewUsers(db, hasher)
	sessions := account.NewSessions(db, hasher, time.Hour, nil)
	admin, err := users.CreateSuperAdmin(ctx, account.NewUser{Username: "admin1", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	member, err := users.SignUp(ctx, account.NewUser{Username: "member1", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	adminLogin, err := sessions.Login(ctx, account.Credentials{Username: "admin1", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	memberLogin, err := sessions.Login(ctx, account.Credentials{Username: "member1", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	real, err := httpapi.New(httpapi.Deps{Users: users, Sessions: sessions, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	bu, bs := New(pool, time.Hour)
	base, err := httpapi.New(httpapi.Deps{Users: bu, Sessions: bs, Log: log})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, token string
		id          uuid.UUID
		status      int
	}{
		{"admin reads a user", adminLogin.Token, member.ID, http.StatusOK},
		{"admin reads itself", adminLogin.Token, admin.ID, http.StatusOK},
		{"unknown id", adminLogin.Token, uuid.Must(uuid.NewV7()), http.StatusNotFound},
		{"unknown token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", member.ID, http.StatusUnauthorized},
		{"plain user", memberLogin.Token, admin.ID, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			get := func(h http.Handler) (int, string) {
				req := httptest.NewRequest(http.MethodGet, "/api/v1/users/"+tc.id.String(), nil)
				req.Header.Set("Authorization", "Bearer "+tc.token)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec.Code, rec.Body.String()
			}
			rc, rb := get(real)
			bc, bb := get(base)
			if rc != tc.status || bc != rc || bb != rb {
				t.Fatalf("service: %d %s\nbaseline: %d %s\nwant status %d", rc, rb, bc, bb, tc.status)
			}
		})
	}
}
