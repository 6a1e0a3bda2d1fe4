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

// loadOptions are the flags of the load command.
type loadOptions struct {
	url, method, body string
	conns, rate       int
	clients           int // addresses named in X-Forwarded-For, in turn; 0 names none
	warmup, duration  time.Duration
	timeout           time.Duration
	header            http.Header
}

// loadCommand drives one endpoint with a fixed number of connections, each
// sending its next request as soon as the last one is answered (vegeta at
// an unbounded rate with exactly --conns workers), or at a fixed --rate,
// first for --warmup (thrown away) and then for --duration (measured), on
// the same connections. SIGTERM ends the measured part early; the result
// covers the time until then.
func loadCommand(ctx context.Context, args []string) error {
	o, err := parseLoadFlags(args)
	if err != nil {
		return err
	}
	l := &loader{o: o, targeter: o.targeter(), client: o.client()}
	if o.warmup > 0 {
		l.attack(ctx, o.warmup, nil)
	}
	var m loadMetrics
	start := time.Now()
	l.attack(ctx, o.duration, &m)
	return json.NewEncoder(os.Stdout).Encode(m.result(time.Since(start)))
}

func parseLoadFlags(args []string) (loadOptions, error) {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	var o loadOptions
	fs.StringVar(&o.url, "url", "", "target URL")
	fs.StringVar(&o.method, "method", http.MethodGet, "HTTP method")
	fs.StringVar(&o.body, "body", "", "request body; {n} is replaced by a number unique within this process")
	fs.IntVar(&o.conns, "conns", 16, "connections (and concurrent requests)")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "warm-up, not measured")
	fs.DurationVar(&o.duration, "duration", 3*time.Second, "measured duration")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "per-request timeout")
	fs.IntVar(&o.rate, "rate", 0, "requests per second, sent on time whatever the answers (open loop, up to --conns in flight); 0 sends each next request when the last is answered")
	fs.IntVar(&o.clients, "clients", 0, "send each request as from one of this many client addresses, in turn (X-Forwarded-For: 198.51.100.k), as a trusted proxy does; 0 sends none")
	var headers headerFlags
	fs.Var(&headers, "header", "request header \"Name: value\" (repeatable)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.url == "" {
		return o, fmt.Errorf("--url is required")
	}
	if o.clients < 0 || o.clients > 254 {
		return o, fmt.Errorf("--clients must be 0 to 254, not %d", o.clients)
	}
	o.header = http.Header{}
	for _, kv := range headers {
		k, v, ok := strings.Cut(kv, ":")
		if !ok {
			return o, fmt.Errorf("--header %q: want \"Name: value\"", kv)
		}
		o.header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	return o, nil
}

// targeter builds each request; {n} in the body becomes a number unique to
// this process, so sign-ups do not collide. With --clients, each request
// names the next of that many addresses in X-Forwarded-For.
func (o loadOptions) targeter() vegeta.Targeter {
	var seq atomic.Uint64
	prefix := strconv.FormatInt(time.Now().UnixNano()%1e6, 36)
	headers := []http.Header{o.header}
	if o.clients > 0 {
		headers = make([]http.Header, o.clients)
		for k := range headers {
			headers[k] = o.header.Clone()
			headers[k].Set("X-Forwarded-For", "198.51.100."+strconv.Itoa(k+1))
		}
	}
	return func(t *vegeta.Target) error {
		n := seq.Add(1)
		t.Method, t.URL, t.Header = o.method, o.url, headers[n%uint64(len(headers))]
		if o.body != "" {
			t.Body = []byte(strings.ReplaceAll(o.body, "{n}", prefix+strconv.FormatUint(n, 10)))
		}
		return nil
	}
}

// client is the one transport for warm-up and measurement, so the
// measured part runs on connections that are already open.
func (o loadOptions) client() *http.Client {
	return &http.Client{
		Timeout: o.timeout,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: o.conns,
			MaxConnsPerHost:     o.conns,
			DisableCompression:  true,
		},
	}
}

// loader runs the attacks of one load process.
type loader struct {
	o        loadOptions
	targeter vegeta.Targeter
	client   *http.Client
}

// attack sends requests for d, until ctx is done, recording the answers in
// m (nil throws them away).
func (l *loader) attack(ctx context.Context, d time.Duration, m *loadMetrics) {
	conns := uint64(l.o.conns)
	a := vegeta.NewAttacker(vegeta.Client(l.client), vegeta.Workers(conns), vegeta.MaxWorkers(conns))
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			a.Stop()
		case <-done:
		}
	}()
	for res := range a.Attack(l.targeter, vegeta.Rate{Freq: l.o.rate, Per: time.Second}, d, "load") {
		if m != nil {
			m.add(res)
		}
	}
	close(done)
}

// loadMetrics are vegeta's metrics of the measured part plus the transport
// errors (no HTTP answer) and the first of them.
type loadMetrics struct {
	vegeta.Metrics
	transport int
	first     string
}

func (m *loadMetrics) add(res *vegeta.Result) {
	m.Add(res)
	if res.Code == 0 {
		m.transport++
		if m.first == "" {
			m.first = res.Error
		}
	}
}

// result is what the process prints for the measured part, which took
// elapsed.
func (m *loadMetrics) result(elapsed time.Duration) loadResult {
	m.Close()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	ok := 0
	for code, n := range m.StatusCodes {
		if strings.HasPrefix(code, "2") {
			ok += n
		}
	}
	return loadResult{
		Requests: m.Requests, Seconds: elapsed.Seconds(), OKPerSec: float64(ok) / elapsed.Seconds(),
		MeanMs: ms(m.Latencies.Mean), P50Ms: ms(m.Latencies.P50), P90Ms: ms(m.Latencies.P90),
		P99Ms: ms(m.Latencies.P99), MaxMs: ms(m.Latencies.Max),
		Codes: m.StatusCodes, Errors: m.transport, FirstError: m.first,
	}
}
