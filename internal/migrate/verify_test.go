package migrate

import (
	"errors"
	"strings"
	"testing"

	"ariga.io/atlas/sql/schema"
)

// A plan that leaves a difference is refused, naming it. The plan here is
// what the Atlas planner alone makes of a removed enum value (nothing),
// which is how diff used to write an empty file.
func TestVerifyPlanNamesWhatIsLeft(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir := serviceDir(t)
	addFile(t, dir, "29990101000000_auditor.sql", "ALTER TYPE userrole ADD VALUE 'AUDITOR';\n")
	dev, err := openDev(ctx, devServer(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := dev.close(); err != nil {
			t.Error(err)
		}
	}()
	have, err := replay(ctx, dev, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	want, err := dev.drv.InspectSchema(ctx, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := want.Object(func(o schema.Object) bool { e, ok := o.(*schema.EnumType); return ok && e.T == "userrole" })
	if !ok {
		t.Fatal("no userrole")
	}
	o.(*schema.EnumType).Values = []string{"USER", "ADMIN", "SUPER_ADMIN"}
	have.Name, want.Name = "", ""
	changes, err := dev.drv.SchemaDiff(have, want)
	if err != nil || len(changes) != 1 {
		t.Fatalf("changes %v (%v)", changes, err)
	}
	plan, err := planChanges(ctx, dev.drv, "drop_auditor", changes)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Changes) != 0 {
		t.Fatalf("the Atlas planner now plans a removed enum value (%d statements); this test needs another unplannable change", len(plan.Changes))
	}
	err = verifyPlan(ctx, dev, want, plan, false)
	var up *UnplannableError
	if !errors.As(err, &up) || len(up.Changes) != 1 ||
		!strings.Contains(err.Error(), "enum type userrole: values (USER, ADMIN, SUPER_ADMIN, AUDITOR) become (USER, ADMIN, SUPER_ADMIN)") ||
		!strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("verify of an empty plan: %v", err)
	}
}
