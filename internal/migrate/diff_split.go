package migrate

import (
	"strings"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
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

// splitEnumAdds splits a plan whose statements use an enum value that the
// same plan adds into two consecutive files: the ADD VALUE statements, then
// the rest, so each file applies in its own transaction (as the Atlas CLI
// and `accounts migrate apply` run a file).
func splitEnumAdds(plan *atlasmigrate.Plan) []*atlasmigrate.Plan {
	var stmts []string
	for _, c := range plan.Changes {
		stmts = append(stmts, c.Cmd)
	}
	if i, _ := usesAddedValue(stmts); i < 0 {
		return []*atlasmigrate.Plan{plan}
	}
	added := addedEnumValues(stmts)
	first, rest := *plan, *plan
	first.Name, first.Changes, rest.Changes = plan.Name+"_enum_values", nil, nil
	for i, c := range plan.Changes {
		if _, ok := added[i]; ok {
			first.Changes = append(first.Changes, c)
		} else {
			rest.Changes = append(rest.Changes, c)
		}
	}
	return []*atlasmigrate.Plan{&first, &rest}
}

// versionPlans gives the plans consecutive versions, starting at the next
// version of dir.
func versionPlans(dir atlasmigrate.Dir, plans []*atlasmigrate.Plan) error {
	v, err := nextVersion(dir, time.Now())
	if err != nil {
		return err
	}
	t, err := time.Parse(versionLayout, v)
	if err != nil {
		return err
	}
	for i, p := range plans {
		p.Version = t.Add(time.Duration(i) * time.Second).Format(versionLayout)
	}
	return nil
}
