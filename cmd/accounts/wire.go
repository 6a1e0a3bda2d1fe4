package main

import (
	"context"
	"net/http"

	atlasmigrate "ariga.io/atlas/sql/migrate"

	"accounts/internal/database"
)

// newHandler wires the services and the HTTP API together. It is the one
// place where dependencies are assembled.
func (a *app) newHandler(ctx context.Context, db *database.DB, dir atlasmigrate.Dir) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	return mux, nil
}
