package database

import (
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestPreferWritable: a URL that lists several hosts and does not choose
// target_session_attrs connects only to a writable host; one that chooses,
// even "any", or that names one host, is left as it is.
func TestPreferWritable(t *testing.T) {
	t.Parallel()
	for url, want := range map[string]bool{
		"postgres://u@10.0.0.1:5432,10.0.0.2:5432/app":                           true,
		"postgres://u@db1,db2/app?sslmode=disable":                               true,
		"host=db1,db2 user=u dbname=app":                                         true,
		"postgres://u@10.0.0.1:5432,10.0.0.2:5432/app?target_session_attrs=any":  false,
		"postgres://u@db1:5432/app":                                              false,
		"postgres://u@db1:5432/app?sslmode=prefer":                               false,
		"postgres://u@db1:5432,db2:5432/app?target_session_attrs=read-write":     true,
		"postgres://u@db1:5432,db2:5432/app?target_session_attrs=prefer-standby": true,
	} {
		cfg, err := pgx.ParseConfig(url)
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		explicit := cfg.ValidateConnect != nil
		preferWritable(url, &cfg.Config)
		if got := cfg.ValidateConnect != nil; got != want {
			t.Errorf("%s: validates the host %v, want %v", url, got, want)
		}
		if explicit && want && cfg.ValidateConnect == nil {
			t.Errorf("%s: the URL's own choice was dropped", url)
		}
	}
}
