package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// browserPath finds Debian's chromium (or another Chrome). Without one the
// test skips on a developer's machine and fails in CI, where .ci/run
// installs it.
func browserPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium on PATH: the /docs browser test needs it in CI (apt-get install chromium)")
	}
	t.Skip("no chromium on PATH; apt-get install chromium to run the /docs browser test")
	return ""
}

// pageWatch records what went wrong while a page ran: requests that
// failed or answered 4xx/5xx, console errors and uncaught exceptions.
type pageWatch struct {
	mu       sync.Mutex
	problems []string
	// responses counts the answers seen, so a listener that hears nothing
	// cannot pass for a clean page.
	responses int
}

func (w *pageWatch) add(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.problems = append(w.problems, fmt.Sprintf(format, args...))
}

func (w *pageWatch) listen(ev any) {
	switch e := ev.(type) {
	case *network.EventLoadingFailed:
		w.add("request failed: %s %s", e.ErrorText, e.BlockedReason)
	case *network.EventResponseReceived:
		w.mu.Lock()
		w.responses++
		w.mu.Unlock()
		if e.Response.Status >= 400 {
			w.add("%s answered %d", e.Response.URL, e.Response.Status)
		}
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError {
			var args []string
			for _, a := range e.Args {
				args = append(args, string(a.Value))
			}
			w.add("console error: %s", strings.Join(args, " "))
		}
	case *runtime.EventExceptionThrown:
		w.add("exception: %s", e.ExceptionDetails.Text)
	case *log.EventEntryAdded:
		if e.Entry.Level == log.EntryLevelError {
			w.add("browser log error: %s (%s)", e.Entry.Text, e.Entry.URL)
		}
	}
}

// TestDocsInBrowser loads /docs in headless chromium against the real
// router: the page loads with no failed request and no console error,
// lists every operation of openapi.yaml, and "Try it out" on GET /livez
// shows 200. The screenshot is saved in the test's artifact directory
// (go test -artifacts keeps it).
func TestDocsInBrowser(t *testing.T) {
	exe := browserPath(t)
	url := docsServer(t)
	ctx := browserContext(t, exe)

	var watch pageWatch
	if err := chromedp.Listen(ctx, watch.listen); err != nil {
		t.Fatal(err)
	}
	livez := "#operations-operations-livez"
	err := chromedp.Do(ctx,
		chromedp.Navigate(url+docsPath),
		chromedp.WaitVisible(chromedp.CSS(livez)),
	)
	if err != nil {
		t.Fatalf("browser: %v (page problems: %v)", err, watch.problems)
	}
	listed, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('.opblock')).map(b =>
		b.querySelector('.opblock-summary-method').textContent.trim() + ' ' +
		b.querySelector('.opblock-summary-path').getAttribute('data-path'))`))
	if err != nil {
		t.Fatal(err)
	}
	saveScreenshot(ctx, t)
	status := tryLivez(ctx, t, livez, &watch)

	want := documentedOperations(t)
	slices.Sort(listed)
	if !slices.Equal(listed, want) {
		t.Errorf("the page lists\n%v\nthe document has\n%v", listed, want)
	}
	if strings.TrimSpace(status) != "200" {
		t.Errorf("Try it out on GET /livez shows %q, want 200", status)
	}
	watch.check(t)
}

// docsServer serves the real router, with the documentation page on, for
// the length of the test and returns its URL.
func docsServer(t *testing.T) string {
	t.Helper()
	h, err := New(Deps{Users: stubUsers{}, Sessions: stubSessions{}, Log: slog.New(slog.DiscardHandler), Config: Config{Docs: true}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// browserContext starts headless chromium from exe for the length of the
// test and returns a context of one of its tabs, which times out after
// four minutes.
func browserContext(t *testing.T, exe string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("no-first-run", true),
		chromedp.WindowSize(1280, 2400),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// saveScreenshot saves a full screenshot of the page as docs.png in the
// test's artifact directory.
func saveScreenshot(ctx context.Context, t *testing.T) {
	t.Helper()
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.ArtifactDir(), "docs.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// tryLivez opens the operation at the livez selector, runs "Try it out"
// and returns the status the page shows.
func tryLivez(ctx context.Context, t *testing.T, livez string, watch *pageWatch) string {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(livez+" .opblock-summary")),
		chromedp.Click(chromedp.CSS(livez+" .try-out__btn")),
		chromedp.Click(chromedp.CSS(livez+" .execute")),
		chromedp.WaitVisible(chromedp.CSS(livez+" .live-responses-table tbody .response-col_status")),
	)
	if err != nil {
		t.Fatalf("Try it out on GET /livez: %v (page problems: %v)", err, watch.problems)
	}
	status, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(livez+" .live-responses-table tbody .response-col_status")))
	if err != nil {
		t.Fatal(err)
	}
	return status
}

// documentedOperations returns "METHOD /path" of every operation of the
// OpenAPI document, sorted.
func documentedOperations(t *testing.T) []string {
	t.Helper()
	doc := loadDocument(t)
	var want []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			want = append(want, method+" "+path)
		}
	}
	slices.Sort(want)
	return want
}

// check fails the test when the browser reported fewer responses than the
// page and its assets make, and reports every problem seen.
func (w *pageWatch) check(t *testing.T) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.responses < 4 {
		t.Errorf("the browser reported %d responses; the page and its assets are at least 4", w.responses)
	}
	for _, p := range w.problems {
		t.Error(p)
	}
}
