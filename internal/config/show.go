package config

import (
	"fmt"
	"io"
	"net"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// ShowYAML writes the effective configuration as a YAML file that --config
// reads back: keys nested as in the file, each value in its own type, the
// source of each value as a comment. A secret that is set is written as a
// comment only, redacted, so that the file never holds it and reading the
// file back leaves it to the environment.
func (c *Config) ShowYAML(w io.Writer) error {
	root := reflect.ValueOf(c).Elem()
	section := ""
	for _, key := range Keys() {
		group, name, _ := strings.Cut(key.Name, ".")
		if group != section {
			if _, err := fmt.Fprintf(w, "%s:\n", group); err != nil {
				return err
			}
			section = group
		}
		v := root.FieldByIndex(key.index).Interface()
		line := fmt.Sprintf("  %s: %s  # %s", name, yamlValue(v), c.shownSource(key.Name))
		if s, ok := v.(string); ok && key.Secret && s != "" {
			redacted := "xxxxx"
			if strings.Contains(s, "://") {
				redacted = RedactURL(s)
			}
			line = fmt.Sprintf("  # %s: %s  # secret, from %s; set it here or in %s", name, strconv.Quote(redacted), c.Source(key.Name), key.Env[0])
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}

// yamlValue writes v as a YAML scalar: strings double-quoted (Go's escapes
// are YAML's), durations as strings like "2m0s", numbers and booleans bare.
func yamlValue(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case time.Duration:
		return strconv.Quote(v.String())
	}
	return fmt.Sprint(v)
}

// closest returns the candidate nearest to name by edit distance, when it
// is near enough to be a likely typo, else "".
func closest(name string, candidates []string) string {
	best, bestDist := "", len(name)/2+2
	for _, c := range candidates {
		if d := editDistance(name, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// validateAddr checks a listen address the way net.Listen will read it:
// host:port, the host optional, the port a number from 0 to 65535.
func (c *Config) validateAddr(p *[]string, key, addr string) {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil {
		c.problem(p, key, "%q is not a listen address like :8080 or 127.0.0.1:8080 (host optional, port 0 to 65535)", addr)
	}
}
