package service

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"syscall"

	"accounts/internal/config"
	"accounts/internal/connbudget"
)

// listen listens on http.addr under the connection budget for the API,
// and on metrics.addr for h.metricsOnly when there is one.
func (p *Process) listen(h handlers) error {
	raw, err := net.Listen("tcp", p.cfg.HTTP.Addr)
	if err != nil {
		return p.bindError("http.addr", p.cfg.HTTP.Addr, err)
	}
	ln := p.connectionBudget(raw)
	p.metrics.RegisterConnections(ln.Stats, ln.Max())
	srv := p.httpServer(h.api)
	srv.ConnState = ln.ConnState
	p.servers = append(p.servers, srv)
	p.listeners = append(p.listeners, ln)
	if h.metricsOnly == nil {
		return nil
	}
	mln, err := net.Listen("tcp", p.cfg.Metrics.Addr)
	if err != nil {
		return p.bindError("metrics.addr", p.cfg.Metrics.Addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h.metricsOnly)
	p.servers = append(p.servers, p.httpServer(mux))
	p.listeners = append(p.listeners, mln)
	return nil
}

// bindError is the failure to listen on addr, the value of key: it says
// where the value came from and, when the port is taken (a second serve, a
// `make run` beside the tests), which process holds it if this machine
// tells, and how to choose another address.
func (p *Process) bindError(key, addr string, err error) error {
	where := fmt.Sprintf("listen on %s (%s, from %s)", addr, key, p.cfg.Source(key))
	if !errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%s: %w", where, err)
	}
	held := ""
	if holder := portHolder(addr); holder != "" {
		held = "; the port is held by " + holder
	}
	set := ""
	for _, k := range config.Keys() {
		if k.Name == key {
			set = k.Env[0]
		}
	}
	if key == "http.addr" {
		set += " or pass --addr"
	}
	return fmt.Errorf("%s: %w%s; stop what holds it, or set %s (%s in a --config file) to a free address (port 0 lets the system choose one)",
		where, err, held, set, key)
}

// fileReserve is how many open files serve keeps beside the API's
// connections and the database pool: the metrics listener and its
// scrapes, logs, DNS lookups, the binary's own files.
const fileReserve = 64

// connectionBudget raises the open-file limit as far as the hard limit
// allows and puts the API's listener under http.max_connections and
// http.max_connections_per_address, lowering the first when it would not
// fit the limit beside the database pool, so accept never fails for want
// of a descriptor.
func (p *Process) connectionBudget(ln net.Listener) *connbudget.Listener {
	cfg := p.cfg.HTTP
	limit, err := raiseFileLimit()
	if err != nil {
		p.log.Warn("could not raise the open-file limit to the hard limit", "limit", limit, "error", err.Error())
	}
	maxConns := cfg.MaxConnections
	reserve := p.cfg.Database.PoolSize + p.cfg.Database.MaxOverflow + fileReserve
	if limit > 0 && uint64(maxConns+reserve) > limit {
		maxConns = max(int(limit)-reserve, int(limit)/2, 1)
		p.log.Warn("http.max_connections lowered to fit the open-file limit (raise the hard limit, ulimit -Hn, to keep it)",
			"configured", cfg.MaxConnections, "max_connections", maxConns, "open_file_limit", limit, "reserved", reserve)
	}
	p.log.Info("connection budget", "max_connections", maxConns, "max_connections_per_address", cfg.MaxConnsPerAddr,
		"reserved_for_new_clients", maxConns/8, "open_file_limit", limit)
	proxies := parsePrefixes(cfg.TrustedProxies)
	return connbudget.New(ln, connbudget.Options{
		Max:        maxConns,
		PerAddress: cfg.MaxConnsPerAddr,
		// An eighth of the places stays for addresses that hold few
		// connections, so that clients holding many slow ones (8 × 64
		// bodies at a byte every 2 s, issue 29) leave fresh ones room.
		Reserved: maxConns / 8,
		Exempt: func(ip netip.Addr) bool {
			return slices.ContainsFunc(proxies, func(p netip.Prefix) bool { return p.Contains(ip) })
		},
		Log: p.log,
	})
}

// parsePrefixes reads a comma-separated list of addresses and CIDRs
// (http.trusted_proxies), skipping what does not parse: the HTTP layer
// refuses such a list before serve listens.
func parsePrefixes(list string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		} else if ip, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
		}
	}
	return out
}

// httpServer returns a server for h with the limits of the http.* keys.
func (p *Process) httpServer(h http.Handler) *http.Server {
	cfg := p.cfg.HTTP
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
	}
}
