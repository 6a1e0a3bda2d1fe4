package migrate

import (
	"runtime/debug"
	"strings"
)

// Operator returns the operator_version value for a given build version:
// "accounts <version> (Atlas-compatible)". The revision table says who
// applied each file, and this keeps our rows clearly apart from rows the
// Atlas CLI writes ("Atlas CLI v…").
func Operator(version string) string {
	version = strings.TrimSpace(version)
	if version == "" {
		version = "(devel)"
	}
	return "accounts " + version + " (Atlas-compatible)"
}

// DefaultOperator is Operator with the version of the running binary, as Go
// recorded it at build time.
func DefaultOperator() string {
	v := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		v = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 && (v == "" || v == "(devel)") {
				v = s.Value[:12]
			}
		}
	}
	return Operator(v)
}
