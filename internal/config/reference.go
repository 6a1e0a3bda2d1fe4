package config

import (
	"errors"
	"strings"
)

// ReferenceFile is the document, relative to the repository's root, that
// holds the reference table of every key between the two markers below.
const ReferenceFile = "docs/configuration.md"

// The reference table stands between a line starting with referenceStart
// and a line that is referenceEnd; the generator rewrites what is between.
const (
	referenceStart = "<!-- config-table"
	referenceEnd   = "<!-- /config-table -->"
)

// Reference returns the reference table of every key, in Markdown: its
// name, its environment variables, its default and its help text, all
// from the one definition of the key (the Config struct's tags and
// Default). A secret that has a default says it must be changed.
func Reference() string {
	var b strings.Builder
	b.WriteString("| key | variable | default | meaning |\n|---|---|---|---|\n")
	for _, k := range Keys() {
		def := "`(empty)`"
		if k.Default != "" {
			def = "`" + k.Default + "`"
			if k.Secret {
				def += " (change it)"
			}
		}
		b.WriteString("| `" + k.Name + "` | `" + strings.Join(k.Env, "`, `") + "` | " + def + " | " + k.Help + " |\n")
	}
	return b.String()
}

// WithReference returns doc, the text of ReferenceFile, with the table
// between its markers replaced by Reference. A doc that WithReference
// leaves unchanged is up to date.
func WithReference(doc string) (string, error) {
	start := strings.Index(doc, referenceStart)
	end := strings.Index(doc, referenceEnd)
	if start < 0 || end < start {
		return "", errors.New("no " + referenceStart + " … " + referenceEnd + " section")
	}
	lineEnd := strings.IndexByte(doc[start:], '\n')
	if lineEnd < 0 || start+lineEnd > end {
		return "", errors.New("the line of " + referenceStart + " must end before " + referenceEnd)
	}
	return doc[:start+lineEnd+1] + Reference() + doc[end:], nil
}
