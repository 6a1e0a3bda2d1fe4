package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// loadResult is what one load process prints: the measured part only,
// never the warm-up.
type loadResult struct {
	Requests   uint64         `json:"requests"`
	Seconds    float64        `json:"seconds"`
	OKPerSec   float64        `json:"ok_per_sec"` // 2xx answers per second
	MeanMs     float64        `json:"mean_ms"`
	P50Ms      float64        `json:"p50_ms"`
	P90Ms      float64        `json:"p90_ms"`
	P99Ms      float64        `json:"p99_ms"`
	MaxMs      float64        `json:"max_ms"`
	Codes      map[string]int `json:"codes"`
	Errors     int            `json:"errors"` // transport errors (no HTTP answer)
	FirstError string         `json:"first_error,omitempty"`
	// ServerCPUus is the server process's CPU time per answered request,
	// filled in by the runner (the load process cannot see it).
	ServerCPUus float64 `json:"-"`
}

// headerFlags collects repeated --header "Name: value" flags.
type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

// loadCommand drives one endpoint with a fixed number of connections, each
// sending its next request as soon as the last one is answered (vegeta at
// an unbounded rate with exactly --conns workers), or at a fixed --rate,
// first for --warmup (thrown away) and then for --duration (measured), on
// the same connections. SIGTERM ends the measured part early; the result
// covers the time until then.
func loadCommand(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	url := fs.String("url", "", "target URL")
	method := fs.String("method", http.MethodGet, "HTTP method")
	body := fs.String("body", "", "request body; {n} is replaced by a number unique within this process")
	conns := fs.Int("conns", 16, "connections (and concurrent requests)")
	warmup := fs.Duration("warmup", time.Second, "warm-up, not measured")
	duration := fs.Duration("duration", 3*time.Second, "measured duration")
	timeout := fs.Duration("timeout", 30*time.Second, "per-request timeout")
	rate := fs.Int("rate", 0, "requests per second, sent on time whatever the answers (open loop, up to --conns in flight); 0 sends each next request when the last is answered")
	var headers headerFlags
	fs.Var(&headers, "header", "request header \"Name: value\" (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" {
		return fmt.Errorf("--url is required")
	}
	h := http.Header{}
	for _, kv := range headers {
		k, v, ok := strings.Cut(kv, ":")
		if !ok {
			return fmt.Errorf("--header %q: want \"Name: value\"", kv)
		}
		h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	var seq atomic.Uint64
	prefix := strconv.FormatInt(time.Now().UnixNano()%1e6, 36)
	targeter := func(t *vegeta.Target) error {
		t.Method, t.URL, t.Header = *method, *url, h
		if *body != "" {
			t.Body = []byte(strings.ReplaceAll(*body, "{n}", prefix+strconv.FormatUint(seq.Add(1), 10)))
		}
		return nil
	}
	// One transport for warm-up and measurement, so the measured part runs
	// on connections that are already open.
	client := &http.Client{
		Timeout: *timeout,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: *conns,
			MaxConnsPerHost:     *conns,
			DisableCompression:  true,
		},
	}
	attack := func(d time.Duration, m *vegeta.Metrics, first *string, transport *int) {
		a := vegeta.NewAttacker(vegeta.Client(client), vegeta.Workers(uint64(*conns)), vegeta.MaxWorkers(uint64(*conns)))
		done := make(chan struct{})
		go func() {
			select {
			case <-ctx.Done():
				a.Stop()
			case <-done:
			}
		}()
		for res := range a.Attack(targeter, vegeta.Rate{Freq: *rate, Per: time.Second}, d, "load") {
			if m != nil {
				m.Add(res)
				if res.Code == 0 {
					*transport++
					if *first == "" {
						*first = res.Error
					}
				}
			}
		}
		close(done)
	}
	if *warmup > 0 {
		attack(*warmup, nil, nil, nil)
	}
	var (
		m         vegeta.Metrics
		first     string
		transport int
	)
	start := time.Now()
	attack(*duration, &m, &first, &transport)
	elapsed := time.Since(start)
	m.Close()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	ok := 0
	for code, n := range m.StatusCodes {
		if strings.HasPrefix(code, "2") {
			ok += n
		}
	}
	out := loadResult{
		Requests: m.Requests, Seconds: elapsed.Seconds(), OKPerSec: float64(ok) / elapsed.Seconds(),
		MeanMs: ms(m.Latencies.Mean), P50Ms: ms(m.Latencies.P50), P90Ms: ms(m.Latencies.P90),
		P99Ms: ms(m.Latencies.P99), MaxMs: ms(m.Latencies.Max),
		Codes: m.StatusCodes, Errors: transport, FirstError: first,
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}
