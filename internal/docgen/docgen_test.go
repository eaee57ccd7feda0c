package docgen

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/MEASURES.md from the registry")

// TestMeasuresDocCurrent: docs/MEASURES.md is what the registry gives, so
// the documented measures, settings, defaults and flags are the ones the
// code has.
func TestMeasuresDocCurrent(t *testing.T) {
	var b bytes.Buffer
	if err := Measures(&b); err != nil {
		t.Fatal(err)
	}
	const path = "../../docs/MEASURES.md"
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, b.Bytes()) {
		t.Fatalf("%s is stale: run go test ./internal/docgen -update", path)
	}
}
