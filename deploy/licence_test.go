package deploy

import (
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// licence is the SPDX identifier of the licence in LICENSE: the one of Ent
// and Atlas, which this service builds on.
const licence = "Apache-2.0"

// TestLicenceIsNamedWhereItIsRead checks that the licence of LICENSE is
// the one the image's labels and the API document (/docs) name, so that no
// place goes on saying another.
func TestLicenceIsNamedWhereItIsRead(t *testing.T) {
	t.Parallel()
	text, err := os.ReadFile("../LICENSE")
	if err != nil {
		t.Fatal(err)
	}
	if fields := strings.Fields(string(text)); len(fields) < 4 || strings.Join(fields[:4], " ") != "Apache License Version 2.0," {
		t.Errorf("LICENSE does not start with the Apache License 2.0: %.80q", text)
	}

	want := `org.opencontainers.image.licenses="` + licence + `"`
	labelled := false
	for _, in := range readDockerfile(t) {
		labelled = labelled || in.Cmd == "LABEL" && strings.Contains(in.Args, want)
		if in.Cmd == "FROM" {
			labelled = false // only the final stage's labels reach the image
		}
	}
	if !labelled {
		t.Errorf("the final stage of the Dockerfile has no LABEL %s", want)
	}

	spec, err := os.ReadFile("../internal/httpapi/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Info struct {
			License struct{ Name, Identifier string }
		}
	}
	if err := yaml.Unmarshal(spec, &doc); err != nil {
		t.Fatal(err)
	}
	if l := doc.Info.License; l.Identifier != licence {
		t.Errorf("openapi.yaml info.license = %+v, want identifier %s", l, licence)
	}
}
