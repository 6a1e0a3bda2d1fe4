// Command schemasql writes the desired database schema as SQL
// (ent/schema.sql): the Ent schema plus what the migration engine adds to
// it. `go generate ./ent` runs it after generating the Ent code; CI fails
// when the committed file is stale.
//
//	go run ./internal/migrate/schemasql [-o FILE]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"accounts/internal/migrate"
)

func main() {
	out := flag.String("o", migrate.SchemaFile, "the file to write")
	flag.Parse()
	b, err := migrate.EntState().SchemaSQL(context.Background())
	if err == nil {
		err = os.WriteFile(*out, b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "schemasql:", err)
		os.Exit(1)
	}
}
