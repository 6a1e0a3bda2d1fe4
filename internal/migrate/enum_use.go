package migrate

import (
	"strings"
)

// addedEnumValues returns the enum values that stmts add, as SQL literals.
func addedEnumValues(stmts []string) map[int]string {
	out := make(map[int]string)
	for i, s := range stmts {
		if m := reAddValue.FindStringSubmatch(stripLeadingComments(s)); m != nil {
			out[i] = "'" + m[2] + "'"
		}
	}
	return out
}

// usesAddedValue returns the index of the first statement after an ADD
// VALUE that names the added value, and the value; -1 when there is none.
// PostgreSQL refuses such a use in the transaction that added the value
// (SQLSTATE 55P04, "unsafe use of new value").
func usesAddedValue(stmts []string) (int, string) {
	added := addedEnumValues(stmts)
	for i, s := range stmts {
		if _, ok := added[i]; ok {
			continue
		}
		for j, lit := range added {
			if j < i && strings.Contains(s, lit) {
				return i, lit
			}
		}
	}
	return -1, ""
}
