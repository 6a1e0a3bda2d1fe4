package database

import (
	"net"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// preferWritable makes a configuration that lists several hosts connect
// only to one that accepts writes, unless connString chooses with
// target_session_attrs. libpq's default, "any", takes the first host that
// answers: a standby listed before its primary would get the service's
// sign-ups and logins, which it refuses, and `wait-db` would report a
// database ready that cannot be written. With one host there is nothing to
// choose, and a read-only server is reported as such by what needs writes.
func preferWritable(connString string, cc *pgconn.Config) {
	if cc.ValidateConnect != nil || strings.Contains(connString, "target_session_attrs") {
		return
	}
	hosts := map[string]bool{net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))): true}
	for _, fb := range cc.Fallbacks {
		hosts[net.JoinHostPort(fb.Host, strconv.Itoa(int(fb.Port)))] = true
	}
	if len(hosts) > 1 {
		cc.ValidateConnect = pgconn.ValidateConnectTargetSessionAttrsReadWrite
	}
}
