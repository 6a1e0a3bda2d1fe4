package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// healthcheckCommand is the container's health check: the image is
// distroless, with no shell or curl to probe /readyz, so the binary does it.
func (a *app) healthcheckCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "GET /readyz of a running server; exit 0 on 200, else 1 with the reason (the container's health check)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			target, _ := cmd.Flags().GetString("url")
			if target == "" {
				target = readyURL(a.cfg.HTTP.Addr)
			} else {
				target = probeURL(target)
			}
			timeout, _ := cmd.Flags().GetDuration("timeout")
			return a.healthcheck(cmd.Context(), target, timeout)
		},
	}
	cmd.Flags().String("url", "", "base URL of the server (its /readyz is probed) or a full probe URL (default: /readyz at http.addr, on the loopback address when http.addr names no host)")
	cmd.Flags().Duration("timeout", 5*time.Second, "give up after this long")
	return cmd
}

// readyURL is /readyz on the server that listens on addr (http.addr) in
// this container or on this machine: an address without a host, or with
// an unspecified one, is reached on the loopback address.
func readyURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = "", "8080"
	}
	switch ip := net.ParseIP(host); {
	case host == "":
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified() && ip.To4() != nil:
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified():
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz"
}

// probeURL is /readyz of a base URL given without a path
// (http://127.0.0.1:8080 or http://127.0.0.1:8080/), and any other URL as
// it is.
func probeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return raw
	}
	u.Path = "/readyz"
	return u.String()
}

// healthcheck GETs target and succeeds on 200 only. Otherwise the error
// says what answered, with the detail of a problem+json body (the reason
// /readyz gives), or why nothing answered.
func (a *app) healthcheck(ctx context.Context, target string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: GET %s: %w", target, err)
	}
	defer func() { _ = resp.Body.Close() }()                 // the answer is read; closing a response body reports nothing useful
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10)) // the status decides; a cut body only shortens the reason
	if resp.StatusCode == http.StatusOK {
		_, err := fmt.Fprintf(a.stdout, "ready: GET %s answered %s\n", target, resp.Status)
		return err
	}
	reason := strings.TrimSpace(string(body))
	var p struct {
		Detail string `json:"detail"`
	}
	if json.Unmarshal(body, &p) == nil && p.Detail != "" {
		reason = p.Detail
	}
	if len(reason) > 300 {
		reason = reason[:300] + "…"
	}
	return fmt.Errorf("healthcheck: GET %s answered %s: %s", target, resp.Status, reason)
}
