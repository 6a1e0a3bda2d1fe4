package httpapi

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
)

// benchUsers answers every read of a user with that user, so the
// benchmarks below measure the HTTP layer on its 200 path.
type benchUsers struct{ stubUsers }

func (benchUsers) Get(_ context.Context, _ account.Principal, id uuid.UUID) (account.User, error) {
	return account.User{ID: id, Username: "user1", Role: account.RoleUser, IsActive: true,
		CreatedAt: time.Unix(1e9, 0).UTC(), UpdatedAt: time.Unix(1e9, 0).UTC()}, nil
}

// BenchmarkGetUserEngine is an admin's GET /api/v1/users/{id} through the
// whole engine (every middleware, the generated binding, the handler and
// the JSON answer), with the service's JSON request log at info into
// io.Discard and services that answer from memory: what the HTTP layer
// costs a request, without the database.
func BenchmarkGetUserEngine(b *testing.B) { benchGetUser(b, "admin", http.StatusOK) }

// BenchmarkProblemEngine is BenchmarkGetUserEngine with a token no session
// has: the 401 problem every unauthenticated request is answered with.
func BenchmarkProblemEngine(b *testing.B) { benchGetUser(b, "nosuch", http.StatusUnauthorized) }

// benchGetUser loads GET /api/v1/users/{id} with the bearer token through
// the engine, and fails on any answer but want.
func benchGetUser(b *testing.B, token string, want int) {
	h, err := New(Deps{Users: benchUsers{}, Sessions: stubSessions{},
		Log:    slog.New(LogHandler(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))),
		Config: Config{MaxBodyBytes: 1 << 10}})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/api/v1/users/"+benchID, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			b.Fatal(rec.Code, rec.Body.String())
		}
	}
}
