package cli

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"accounts/internal/config"
	"accounts/internal/database"
	"accounts/internal/devinfra/pgcluster"
)

// databaseKeys are the keys that, set by anything but the defaults, mean the
// user has chosen a database and dev must not start its own.
var databaseKeys = []string{"database.url", "database.host", "database.port", "database.user", "database.password", "database.name"}

// DevDatabase is what PrepareDev sets up besides env.Config's database.
type DevDatabase struct {
	// MigrateURL is the owner role's URL, which migrations run as while
	// env.Config connects as the runtime role; "" when dev serves as
	// configured.
	MigrateURL string
	// AdminURL is the configured role's URL, on the same server: the one
	// that may create the drift check's throw-away database, which the
	// runtime role may not.
	AdminURL string
}

// PrepareDev points env.Config at `accounts dev`'s database: one that
// needs no setup (the configured one, the local default, or a private
// cluster started in dev.data_dir), created when missing, with the two
// roles of a deployment when dev created it (devRoles): then env.Config
// connects as the runtime role. stop stops a cluster this process
// started; it is never nil.
func (env *Env) PrepareDev(ctx context.Context) (dev DevDatabase, stop func(), err error) {
	cfg, log := env.Config, env.Log
	for _, p := range cfg.WeakSecrets() {
		// dev is for trying the service out, so it runs, but serve
		// would refuse this configuration.
		log.Warn("INSECURE SECRET: " + p + "; serve refuses to start with it")
	}
	stop = func() {}
	target := cfg.Database.ConnString()
	// Any database will do for the check: the configured one may not
	// exist yet.
	if !databaseConfigured(cfg) && database.Ping(ctx, maintenanceURL(target), 3*time.Second) != nil {
		c, err := startCluster(ctx, cfg, log)
		if err != nil {
			return dev, stop, err
		}
		// Other commands do not know of the cluster: say how they reach it.
		log.Info(fmt.Sprintf("the private cluster listens on a port of its own; give other commands its URL: DATABASE_URL='%s' %s users create-superadmin --username admin",
			c.URL(cfg.Database.Name), env.cliName()))
		if !c.Attached() {
			// A cluster this process started stops with it, so no server
			// outlives `make run`; one that was already running (another
			// dev process) is left to its owner.
			stop = func() { stopCluster(c, log) }
		}
		target = c.URL(cfg.Database.Name)
	}
	created, err := pgcluster.EnsureDatabase(ctx, maintenanceURL(target), databaseName(target))
	if err != nil {
		return dev, stop, fmt.Errorf("create database %q: %w", databaseName(target), err)
	}
	if created {
		log.Info("created database", "name", databaseName(target))
	}
	cfg.Database.URL = target
	dev.AdminURL = target
	owner, runtime, err := devRoles(ctx, target, created)
	if err != nil {
		log.Warn("dev serves as the configured role: it could not set up the owner and runtime roles (internal/database/roles.sql)", "error", err.Error())
		return dev, stop, nil
	}
	if runtime != "" {
		cfg.Database.URL = runtime
	}
	dev.MigrateURL = owner
	return dev, stop, nil
}

// devRoles gives the database at target, when dev created it, the two
// roles of a deployment (internal/database/roles.sql), named after it
// (NAME_owner, NAME_runtime), and returns the URLs of both. Roles of that
// name left by a database of the same name that was dropped are made
// anew. On a database dev did not create, roles of those names are used
// when they exist, and otherwise none ("", "": served as configured, as
// before). The passwords are new at each start, so that nothing has to
// keep them and any authentication method takes them.
func devRoles(ctx context.Context, target string, created bool) (ownerURL, runtimeURL string, err error) {
	name := databaseName(target)
	r := database.Roles{
		Database: name, Owner: name + "_owner", Runtime: name + "_runtime",
		OwnerPassword: rand.Text(), RuntimePassword: rand.Text(),
	}
	conn, err := pgx.Connect(ctx, target)
	if err != nil {
		return "", "", err
	}
	defer func() { _ = conn.Close(ctx) }() // nothing is left to report
	var existing int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_roles WHERE rolname IN ($1, $2)`, r.Owner, r.Runtime).Scan(&existing); err != nil {
		return "", "", err
	}
	var script string
	switch {
	case created:
		setup, err := r.SQL()
		if err != nil {
			return "", "", err
		}
		script = "DROP ROLE IF EXISTS " + pgx.Identifier{r.Owner}.Sanitize() + ", " + pgx.Identifier{r.Runtime}.Sanitize() + ";\n" + setup
	case existing == 2:
		script = r.PasswordSQL()
	default:
		return "", "", nil
	}
	// One simple-protocol query: all of it in one transaction, or none.
	if _, err := conn.Exec(ctx, script); err != nil {
		return "", "", err
	}
	return withUser(target, r.Owner, r.OwnerPassword), withUser(target, r.Runtime, r.RuntimePassword), nil
}

// withUser is the URL u with user and password in it.
func withUser(u, user, password string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	p.User = url.UserPassword(user, password)
	return p.String()
}

// cliName is how the user runs the binary, accounts when unknown.
func (env *Env) cliName() string {
	if env.CLI == "" {
		return "accounts"
	}
	return env.CLI
}

// databaseConfigured reports whether anything but the defaults chose the
// database.
func databaseConfigured(cfg *config.Config) bool {
	for _, k := range databaseKeys {
		if cfg.Source(k) != "default" {
			return true
		}
	}
	return false
}

// startCluster starts (or attaches to) the private cluster in
// dev.data_dir.
func startCluster(ctx context.Context, cfg *config.Config, log *slog.Logger) (*pgcluster.Cluster, error) {
	log.Info("no database configured and none answers at the default address; starting a private cluster",
		"data_dir", cfg.Dev.DataDir)
	c, err := pgcluster.Start(ctx, pgcluster.Options{DataDir: cfg.Dev.DataDir, Logger: log})
	if err != nil {
		return nil, err
	}
	log.Info("private PostgreSQL cluster is up", "url", c.URL(cfg.Database.Name), "data_dir", c.DataDir())
	return c, nil
}

// stopCluster stops the private cluster within 30 seconds.
func stopCluster(c *pgcluster.Cluster, log *slog.Logger) {
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Stop(sctx); err != nil {
		log.Warn("stopping the private cluster", "error", err.Error())
	} else {
		log.Info("stopped the private cluster", "data_dir", c.DataDir())
	}
}

// maintenanceURL points u at the postgres database, which every server has.
func maintenanceURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	p.Path = "/postgres"
	return p.String()
}

// databaseName is the database u names, or the default one.
func databaseName(u string) string {
	p, err := url.Parse(u)
	if err != nil || strings.Trim(p.Path, "/") == "" {
		return config.Default().Database.Name
	}
	return strings.Trim(p.Path, "/")
}
