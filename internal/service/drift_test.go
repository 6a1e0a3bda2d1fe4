package service_test

import (
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"accounts/internal/config"
	"accounts/internal/migrate"
	"accounts/internal/service"
	"accounts/internal/testdb"
	"accounts/migrations"
)

// The drift loop of a running service, end to end: on a database its
// migrations made, accounts_migration_drift_objects reads 0; after a DBA
// adds an index by hand, the next check reports it.
func TestServeDriftLoopReportsDBAChange(t *testing.T) {
	cfg := config.Default()
	cfg.Database.URL = testdb.URL(t)
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Metrics.Enabled, cfg.Metrics.Addr = true, "" // /metrics on the API's port 0
	// The test database's role may not create databases: the drift check
	// replays the files on an empty one made here.
	cfg.Migrate.DevURL = emptyDatabase(t)
	cfg.Password.Argon2MemoryKB = 64
	cfg.Password.Argon2Time = 1
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := service.Open(t.Context(), service.Options{
		Config: &cfg, Log: log, Migrations: &migrate.EmbeddedDir{FS: migrations.FS}, MigrationsOrigin: "embedded",
		DriftChecks: service.DriftSchedule{First: 50 * time.Millisecond, Every: 200 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	go func() { _ = p.Run(t.Context()) }() // ends with the test's context
	metricsURL := "http://" + p.Addr().String() + "/metrics"
	waitForMetric(t, metricsURL, "accounts_migration_drift_objects 0")
	db, err := sql.Open("pgx", cfg.Database.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	if _, err := db.Exec(`CREATE INDEX ix_dba_users_active ON users (is_active)`); err != nil {
		t.Fatal(err)
	}
	waitForMetric(t, metricsURL, "accounts_migration_drift_objects 1")
}

// emptyDatabase creates an empty database on the test server, dropped when
// the test ends, and returns its URL.
func emptyDatabase(t *testing.T) string {
	t.Helper()
	server, err := url.Parse(testdb.ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("pgx", server.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	name := fmt.Sprintf("drift_dev_%d", time.Now().UnixNano())
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Error(err)
		}
	})
	dev := *server
	dev.Path = "/" + name
	return dev.String()
}

// waitForMetric polls url until a line of its body is want.
func waitForMetric(t *testing.T, url, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body) // a short read shows as a miss below
			_ = resp.Body.Close()
			last = string(b)
			for _, line := range strings.Split(last, "\n") {
				if line == want {
					return
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no %q in %s within 60s; last body:\n%s", want, url, last)
}
