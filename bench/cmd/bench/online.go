package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"

	"accounts/internal/migrate"
	"accounts/migrations"
)

// migrationForm is one way to write the migration measurement 7 applies:
// a column and an index on users.
type migrationForm struct {
	name string
	sql  string
}

// The two forms. online is what `accounts migrate diff` writes for an index
// on an existing table; blocking is the same change as a plain CREATE INDEX
// in the file's transaction, which holds the ALTER TABLE's ACCESS EXCLUSIVE
// lock on users until the index is built.
var migrationForms = []migrationForm{
	{"online", "-- atlas:txmode none\n\nALTER TABLE \"users\" ADD COLUMN \"nickname\" character varying NULL;\n" +
		"CREATE INDEX CONCURRENTLY \"ix_users_nickname\" ON \"users\" (\"nickname\");\n"},
	{"blocking", "ALTER TABLE \"users\" ADD COLUMN \"nickname\" character varying NULL;\n" +
		"CREATE INDEX \"ix_users_nickname\" ON \"users\" (\"nickname\");\n"},
}

// drainTime is how long the loads of measurement 7 run on after the apply.
const drainTime = time.Second

// Load of measurement 7: reads at a fixed rate (well below what the
// service answers, so the p99 shows waiting, not saturation) and sign-ups
// on as many connections as there are hashing slots.
const (
	onlineGetRate  = 500
	onlineGetConns = 64
)

// onlineMigration is measurement 7: on a table of largeUsers users, with
// GET /users/{id} and sign-up load running, apply a migration that adds a
// column and an index to users, in each form. It reports the failed
// requests during the apply, the p99 during the apply against the p99 of
// the same load just before, and the apply's wall time.
func (r *runner) onlineMigration(ctx context.Context) error {
	for _, form := range migrationForms {
		ms, err := r.onlineMigrationForm(ctx, form)
		if err != nil {
			return fmt.Errorf("measurement 7, %s form: %w", form.name, err)
		}
		r.timings = append(r.timings, timing{name: fmt.Sprintf("7 migrate apply, %s form (%d users, under load)", form.name, r.largeUsers),
			ms: []float64{ms}, note: "wall time of the accounts process, one run"})
	}
	return nil
}

func (r *runner) onlineMigrationForm(ctx context.Context, form migrationForm) (applyMs float64, err error) {
	db, err := r.newDatabase(ctx, "online_"+form.name, r.largeUsers)
	if err != nil {
		return 0, err
	}
	dir, err := r.migrationDir(form)
	if err != nil {
		return 0, err
	}
	// r.env turns auth.signups_per_address off: the sign-ups come from one
	// loopback address standing in for many clients.
	s, err := startServer(ctx, "accounts serve ("+form.name+" migration)", filepath.Join(r.work, "server-"+form.name+"-migration.log"),
		r.env(db), r.accountsBin, "serve", "--addr", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	r.procs = append(r.procs, s)
	defer s.stop()
	loads := r.onlineLoads(s)

	before, err := r.concurrentLoads(ctx, loads, r.duration, nil)
	if err != nil {
		return 0, err
	}
	var out []byte
	during, err := r.concurrentLoads(ctx, loads, 0, func() error {
		cmd := exec.CommandContext(ctx, r.accountsBin, "migrate", "apply", "--dir", dir)
		cmd.Env = append(r.env(db), "ACCOUNTS_LOG_FORMAT=text")
		start := time.Now()
		out, err = cmd.CombinedOutput()
		applyMs = float64(time.Since(start).Microseconds()) / 1000
		if err != nil {
			return fmt.Errorf("migrate apply: %w: %s", err, out)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if err := r.checkIndexBuilt(ctx, db); err != nil {
		return 0, err
	}
	failed := 0
	for i, l := range loads {
		r.add("7 "+l.name, form.name+" form, before the apply", before[i], 0, "")
		r.add("7 "+l.name, form.name+" form, during the apply", during[i], 0, fmt.Sprintf("apply took %.0f ms; the load ran on %s after it", applyMs, drainTime))
		failed += failedRequests(during[i])
		name := fmt.Sprintf("migration_%s_%s_p99_during_vs_before", form.name, l.key)
		if during[i].Requests == 0 {
			r.logf("%s: no %s request was answered during the apply; no ratio", name, l.name)
			continue
		}
		r.ratio(name, during[i].P99Ms/before[i].P99Ms, target(form, "<= 3"))
	}
	r.ratio(fmt.Sprintf("migration_%s_failed_requests_during_apply", form.name), float64(failed), target(form, "0"))
	r.logf("migrate apply (%s form) said:\n%s", form.name, out)
	return applyMs, nil
}

func target(form migrationForm, t string) string {
	if form.name == "online" {
		return t
	}
	return "report (the contrast)"
}

// failedRequests counts the answers that are not 2xx and the requests that
// got no answer.
func failedRequests(l loadResult) int {
	n := l.Errors
	for code, c := range l.Codes {
		if !strings.HasPrefix(code, "2") && code != "0" {
			n += c
		}
	}
	return n
}

// onlineLoad is one of the loads that run while the migration applies.
type onlineLoad struct {
	name, key string
	args      []string
}

func (r *runner) onlineLoads(s *server) []onlineLoad {
	return []onlineLoad{
		{"GET /users/{id}", "get_user", []string{"--url", "http://" + s.addr + "/api/v1/users/" + r.targetID.String(),
			"--header", "Authorization: Bearer " + r.token, "--rate", fmt.Sprint(onlineGetRate), "--conns", fmt.Sprint(onlineGetConns)}},
		{"POST /account/signup", "signup", []string{"--method", "POST", "--url", "http://" + s.addr + "/api/v1/account/signup",
			"--header", jsonContentType, "--body", `{"username":"mig_{n}","password":"` + benchPassword + `"}`,
			"--conns", fmt.Sprint(r.cfg.Password.MaxConcurrent)}},
	}
}

// concurrentLoads runs every load at once, each in a process of its own
// with the usual warm-up. With during nil they measure for d; otherwise
// during runs right after the warm-up and the loads stop drainTime after it
// returns, so the requests it held up are answered, and counted, before
// the load ends.
func (r *runner) concurrentLoads(ctx context.Context, loads []onlineLoad, d time.Duration, during func() error) ([]loadResult, error) {
	if during != nil {
		d = time.Hour // ended by SIGTERM
	}
	cmds := make([]*exec.Cmd, len(loads))
	outs := make([]*bytes.Buffer, len(loads))
	for i, l := range loads {
		args := append([]string{"load", "--warmup", r.warmup.String(), "--duration", d.String()}, l.args...)
		cmds[i] = exec.CommandContext(ctx, r.selfBin, args...)
		outs[i] = &bytes.Buffer{}
		cmds[i].Stdout, cmds[i].Stderr = outs[i], os.Stderr
		if err := cmds[i].Start(); err != nil {
			return nil, err
		}
	}
	var duringErr error
	if during != nil {
		time.Sleep(r.warmup + 500*time.Millisecond)
		duringErr = during()
		time.Sleep(drainTime)
		for _, c := range cmds {
			_ = c.Process.Signal(syscall.SIGTERM)
		}
	}
	res := make([]loadResult, len(loads))
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			return nil, fmt.Errorf("load %s: %w", loads[i].name, err)
		}
		if err := json.Unmarshal(outs[i].Bytes(), &res[i]); err != nil {
			return nil, fmt.Errorf("load %s output %q: %w", loads[i].name, outs[i].Bytes(), err)
		}
	}
	return res, duringErr
}

// migrationDir writes the embedded migrations plus the form's file into a
// directory of its own and hashes it.
func (r *runner) migrationDir(form migrationForm) (string, error) {
	path := filepath.Join(r.work, "migrations-"+form.name)
	if err := os.MkdirAll(path, 0o755); err != nil {
		return "", err
	}
	err := fs.WalkDir(migrations.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".sql") {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(path, filepath.Base(p)), b, 0o644)
	})
	if err != nil {
		return "", err
	}
	name := time.Now().UTC().Format("20060102150405") + "_users_nickname.sql"
	if err := os.WriteFile(filepath.Join(path, name), []byte(form.sql), 0o644); err != nil {
		return "", err
	}
	dir, err := atlasmigrate.NewLocalDir(path)
	if err != nil {
		return "", err
	}
	return path, migrate.Hash(dir)
}

// checkIndexBuilt makes sure the migration did what it says: the column is
// there and the index valid.
func (r *runner) checkIndexBuilt(ctx context.Context, db string) error {
	return r.exec(ctx, db, `DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'ix_users_nickname' AND i.indisvalid) THEN
    RAISE EXCEPTION 'ix_users_nickname is missing or INVALID after the apply';
  END IF;
END $$`)
}
