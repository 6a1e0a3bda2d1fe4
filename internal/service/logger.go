package service

import (
	"io"
	"log/slog"
	"os"

	"accounts/internal/config"
	"accounts/internal/httpapi"
)

// NewLogger builds the process logger from log.*: JSON for machines, text
// on a terminal (log.format auto). Every line logged with a request's
// context, the SQL and pool echo of the database included, carries the
// request's id. Every command of accounts and the benchmark's servers log
// through it.
func NewLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level)) // config.Load accepts only valid levels
	opts := &slog.HandlerOptions{Level: level}
	format := cfg.Format
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	if format == "text" {
		return slog.New(httpapi.LogHandler(slog.NewTextHandler(w, opts)))
	}
	opts.ReplaceAttr = secondsAttr
	return slog.New(httpapi.LogHandler(slog.NewJSONHandler(w, opts)))
}

// secondsAttr writes a duration in a JSON line as seconds, a float
// ("took":0.012), as log pipelines and Prometheus expect, instead of
// slog's integer of nanoseconds.
func secondsAttr(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.Float64Value(a.Value.Duration().Seconds())
	}
	return a
}
