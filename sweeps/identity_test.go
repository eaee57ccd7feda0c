package sweeps

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// golden is testdata/identity.golden.json: for each sweep file of
// testdata/identity, the ID and canonical JSON of every trial, as the
// version of flatsweep before package spec computed them.
type golden map[string]struct {
	Trials []struct {
		ID        string `json:"id"`
		Canonical string `json:"canonical"`
	} `json:"trials"`
}

func loadGolden(t *testing.T) golden {
	t.Helper()
	b, err := os.ReadFile("testdata/identity.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestIdentityUnchanged: every trial of the corpus keeps its canonical JSON
// and its trial ID, or, for the trials that read files (whose identity is
// now their content), its legacy ID is the ID it had.
func TestIdentityUnchanged(t *testing.T) {
	g := loadGolden(t)
	files, _ := filepath.Glob("testdata/identity/*.yaml")
	if len(files) != len(g) || len(files) < 10 {
		t.Fatalf("%d corpus files, %d golden entries", len(files), len(g))
	}
	for _, f := range files {
		s, err := Load(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		want := g[filepath.Base(f)].Trials
		trials := Expand(s)
		if len(trials) != len(want) {
			t.Fatalf("%s: %d trials, want %d", f, len(trials), len(want))
		}
		files := s.Dataset.Name != spec.DatasetSynthetic || s.Train.WarmStart.Path != ""
		for i, tr := range trials {
			c, err := spec.Canonical(tr.Spec)
			if err != nil {
				t.Fatal(err)
			}
			if string(c) != want[i].Canonical {
				t.Errorf("%s trial %d: canonical\n got %s\nwant %s", f, i, c, want[i].Canonical)
			}
			if tr.ID != spec.ID(tr.Spec) {
				t.Errorf("%s trial %d: spliced ID %s, encoded %s", f, i, tr.ID, spec.ID(tr.Spec))
			}
			if got := spec.LegacyID(tr.Spec); got != want[i].ID {
				t.Errorf("%s trial %d: legacy ID %s, want %s", f, i, got, want[i].ID)
			}
			if !files && tr.ID != want[i].ID {
				t.Errorf("%s trial %d: ID %s, want %s", f, i, tr.ID, want[i].ID)
			}
		}
	}
}

// TestLargeSeedsExact: seeds beyond 2⁵³ reach the trial spec, its JSON and
// its ID exactly.
func TestLargeSeedsExact(t *testing.T) {
	src := strings.Replace(string(reference()), "seed: [1, 2]", "seed: [1, 9007199254740993, 3]", 1)
	s, err := Parse([]byte(src), "big.yaml")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for _, tr := range Expand(s) {
		seen[tr.Spec.Seed] = true
		c, _ := spec.Canonical(tr.Spec)
		if tr.Spec.Seed == 9007199254740993 && !strings.Contains(string(c), `"seed":9007199254740993`) {
			t.Errorf("canonical JSON %s", c)
		}
		if v, _ := tr.Point.Value("seed"); v != "1" && v != "3" && v != "9007199254740993" {
			t.Errorf("point %v", tr.Point)
		}
	}
	if !seen[9007199254740993] || seen[9007199254740992] {
		t.Errorf("seeds %v", seen)
	}
}

// TestDataIdentityIsContent: a file dataset's trials have the same IDs
// whether the sweep names the files by a relative or an absolute path, or
// after they move; changing a file changes every ID. (Before content
// identity, the path was hashed into the IDs: moving the data duplicated
// every trial, and changed files kept the old IDs.)
func TestDataIdentityIsContent(t *testing.T) {
	write := func(dir, content string) {
		for _, name := range []string{"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(name+content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	ids := func(dir string) []string {
		t.Helper()
		s, err := Parse([]byte("name: m\ndataset: {name: mnist, dir: "+dir+", n: 100, n_test: 50}\n"+
			"model: {arch: mlp, hidden: [8]}\ntrain: {epochs: 1}\ngrid: {batch_size: [10, 20], lr: [0.1], seed: [1]}\n"), "m.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ResolveFiles(); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, tr := range Expand(s) {
			out = append(out, tr.ID)
		}
		return out
	}
	abs := t.TempDir()
	write(abs, "a")
	cwd, _ := os.Getwd()
	rel, err := filepath.Rel(cwd, abs)
	if err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	write(other, "a")
	a, r, moved := ids(abs), ids(rel), ids(other)
	if !slices.Equal(a, r) || !slices.Equal(a, moved) {
		t.Fatalf("same files, different IDs: absolute %v, relative %v, moved %v", a, r, moved)
	}
	write(other, "b")
	if changed := ids(other); slices.ContainsFunc(changed, func(id string) bool { return slices.Contains(a, id) }) {
		t.Fatalf("changed files kept IDs: %v vs %v", changed, a)
	}
}
