// Command bench measures what the service's stack costs (Gin; the Ent
// client on Ent's own SQL driver over database/sql, on a pgxpool through
// stdlib.OpenDBFromPool; argon2id from golang.org/x/crypto), as ratios
// taken side by side in one run against baselines: the same router over
// hand-written pgxpool queries, pgbench running the same SQL, and the raw
// argon2.IDKey rate.
//
//	bench run [--quick] --accounts BIN   the whole benchmark (bench/run.sh builds BIN and this binary)
//	bench serve --impl baseline|ent      a server process: the API over the baseline or over Ent
//	bench load --url URL ...             a load-generator process (vegeta), prints one JSON result
//	bench hashrate ...                   the raw argon2.IDKey rate, prints one JSON result
//
// Every load comes from a process of its own, on loopback, with a fixed
// number of connections and a warm-up whose results are thrown away.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bench run|serve|load|hashrate [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = runCommand(ctx, os.Args[2:])
	case "serve":
		err = serveCommand(ctx, os.Args[2:])
	case "load":
		err = loadCommand(ctx, os.Args[2:])
	case "hashrate":
		err = hashrateCommand(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q; want run, serve, load or hashrate", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
