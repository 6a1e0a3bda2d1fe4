// Command accounts is the user-account service: its HTTP API, its migration
// engine and its developer tools, in one binary.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, time.Now, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "accounts:", err)
		stop()
		os.Exit(exitCode(err))
	}
}
