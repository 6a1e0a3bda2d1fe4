package migrate

import (
	"context"
	"database/sql"
	"fmt"
)

// requireWritable refuses a server that cannot take the migration's writes
// before anything starts, rather than in the middle of a file: a hot
// standby (in recovery), or a session that is read-only by default. The
// message says which server answered, since with a multi-host URL it is
// not obvious.
func requireWritable(ctx context.Context, conn *sql.Conn) error {
	var (
		recovery bool
		readOnly string
		server   string
	)
	err := conn.QueryRowContext(ctx, `SELECT pg_is_in_recovery(), current_setting('transaction_read_only'),
		coalesce(host(inet_server_addr()) || ':' || inet_server_port(), 'the unix socket')`).Scan(&recovery, &readOnly, &server)
	if err != nil {
		return fmt.Errorf("check that the database accepts writes: %w", err)
	}
	const how = "migrations must run on the primary: point the database URL at it, or list every host with target_session_attrs=read-write so that the writable one is chosen"
	switch {
	case recovery:
		return fmt.Errorf("the database server at %s is a read-only standby (in recovery); %s", server, how)
	case readOnly == "on":
		return fmt.Errorf("the database session at %s is read-only (default_transaction_read_only is on); %s", server, how)
	}
	return nil
}
