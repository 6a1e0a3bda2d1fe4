// Command configdoc writes the reference table of every configuration key
// into docs/configuration.md, from the keys' one definition in
// internal/config. `go generate ./internal/config` runs it;
// TestDocsConfigReferenceIsCurrent fails when the committed file is stale.
//
//	go run ./internal/config/configdoc [-o FILE]
package main

import (
	"flag"
	"fmt"
	"os"

	"accounts/internal/config"
)

func main() {
	out := flag.String("o", config.ReferenceFile, "the document to rewrite between its config-table markers")
	flag.Parse()
	if err := rewrite(*out); err != nil {
		fmt.Fprintln(os.Stderr, "configdoc:", err)
		os.Exit(1)
	}
}

// rewrite replaces the reference table of the document at path.
func rewrite(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	doc, err := config.WithReference(string(b))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}
