package sweeps

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// FuzzParse seeds its corpus with the sweep files of the package and its
// tests. It requires Parse never to panic, every error to wrap ErrInvalid,
// and every sweep it accepts to be valid, resolved, and to round-trip
// through its JSON form (the form the coordinator receives) to the same
// canonical JSON.
func FuzzParse(f *testing.F) {
	var files []string
	for _, pattern := range []string{"testdata/*.yaml", "testdata/identity/*.yaml", "*.yaml"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		f.Fatal("no sweep files to seed the corpus")
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, y := range []string{full, measuresSweep, dinhSweep, aliasBomb, samSweep} {
		f.Add([]byte(y))
	}
	for _, y := range genericSweeps {
		f.Add([]byte(y))
	}
	f.Add([]byte(nestedLinked))
	f.Add([]byte("name: x\ngrid: {lr: [.nan]}\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Add([]byte("name: x\nname: y\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b, "fuzz.yaml")
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("Parse accepted an invalid sweep: %v\n%s", err, b)
		}
		js, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("no JSON form: %v\n%s", err, b)
		}
		if r, _ := json.Marshal(s.Resolved()); !bytes.Equal(js, r) {
			t.Fatalf("Parse's result is not resolved:\n%s\n%s", js, r)
		}
		s2, err := spec.DecodeSweep(js)
		if err != nil {
			t.Fatalf("the JSON form does not decode: %v\n%s", err, js)
		}
		if err := s2.Validate(); err != nil {
			t.Fatalf("the decoded JSON form is invalid: %v\n%s", err, js)
		}
		if js2, err := json.Marshal(s2); err != nil || !bytes.Equal(js, js2) {
			t.Fatalf("the JSON form does not round-trip (%v):\n%s\n%s", err, js, js2)
		}
	})
}
