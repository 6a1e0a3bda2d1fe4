package httpapi

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

// BenchmarkRequestLogLine measures what the request log line costs: the
// same GET /livez through the whole engine with the service's JSON logger
// at warn (no line), at info into io.Discard (the line built, not
// written), and at info into a file (built and written, one write per
// line, as to stderr). The differences are the line's cost.
func BenchmarkRequestLogLine(b *testing.B) {
	f, err := os.CreateTemp(b.TempDir(), "log")
	if err != nil {
		b.Fatal(err)
	}
	// The file only ever holds benchmark log lines in a temporary
	// directory: a close error loses nothing worth failing for.
	defer func() { _ = f.Close() }()
	for _, tc := range []struct {
		name  string
		w     io.Writer
		level slog.Level
	}{
		{"warn", io.Discard, slog.LevelWarn},
		{"info_discard", io.Discard, slog.LevelInfo},
		{"info_file", f, slog.LevelInfo},
	} {
		b.Run(tc.name, func(b *testing.B) {
			d := testEngineDeps()
			d.Log = slog.New(LogHandler(slog.NewJSONHandler(tc.w, &slog.HandlerOptions{Level: tc.level})))
			h, err := New(d)
			if err != nil {
				b.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodGet, "/livez", nil)
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatal(rec.Code)
				}
			}
		})
	}
}
