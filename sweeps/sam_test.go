package sweeps

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// samSweep sweeps the SAM radius and the m-sharpness sub-batch size.
const samSweep = `
name: sam
dataset: {name: synthetic, n: 256, n_test: 64}
model: {arch: mlp, hidden: [8]}
train:
  epochs: 3
  sam: {adaptive: true, eta: 0.02}
  swa: {start: 2}
grid:
  sam_rho: [0.5, 1]
  sam_m: [0, 4]
  batch_size: [16, 32]
  lr: [0.1]
  seed: [1]
`

// TestSAMAxes: sam_rho and sam_m expand after the other optional axes, reach
// the trial specs, and the spliced IDs are the encoded ones.
func TestSAMAxes(t *testing.T) {
	s, err := Parse([]byte(samSweep), "sam.yaml")
	if err != nil {
		t.Fatal(err)
	}
	trials := Expand(s)
	if len(trials) != 8 {
		t.Fatalf("%d trials, want 8", len(trials))
	}
	i := 0
	for _, rho := range []float64{0.5, 1} {
		for _, m := range []int{0, 4} {
			for _, b := range []int{16, 32} {
				tr := trials[i]
				want := fmt.Sprintf("sam_rho=%v sam_m=%d batch_size=%d lr=0.1 seed=1", rho, m, b)
				sp := tr.Spec
				if tr.Point.String() != want || sp.SAM != (spec.SAM{Rho: rho, Adaptive: true, Eta: 0.02, M: m}) ||
					sp.SWA.Start != 2 || sp.BatchSize != b {
					t.Errorf("trial %d: point %v, spec %+v %+v, want %s", i, tr.Point, sp.SAM, sp.SWA, want)
				}
				if tr.ID != spec.ID(sp) {
					t.Errorf("trial %d: spliced ID %s, encoded %s", i, tr.ID, spec.ID(sp))
				}
				if err := sp.Validate(); err != nil {
					t.Errorf("trial %d: %v", i, err)
				}
				i++
			}
		}
	}
	if s.Train.SAM.Rho != 0 || s.Train.SAM.M != 0 {
		t.Errorf("resolved sweep keeps the swept fields: %+v", s.Train.SAM)
	}
}

// TestSAMZeroKeepsIDs: a grid sam_rho value of 0 (and sam_m 0) is the plain
// trial: its ID is the reference sweep's.
func TestSAMZeroKeepsIDs(t *testing.T) {
	ref, _ := referenceSpec()
	s, err := Parse(replace(t, "  seed: [1, 2]\n", "  seed: [1, 2]\n  sam_rho: [0, 0.05]\n"), "z.yaml")
	if err != nil {
		t.Fatal(err)
	}
	refTrials, trials := Expand(ref), Expand(s)
	if len(trials) != 2*len(refTrials) {
		t.Fatalf("%d trials, want %d", len(trials), 2*len(refTrials))
	}
	for i, tr := range refTrials {
		if trials[i].ID != tr.ID || trials[i].ID != spec.ID(trials[i].Spec) {
			t.Errorf("trial %d: ρ = 0 has ID %s, plain %s", i, trials[i].ID, tr.ID)
		}
		if c := trials[len(refTrials)+i]; c.ID == tr.ID || c.Spec.SAM.Rho != 0.05 || c.ID != spec.ID(c.Spec) {
			t.Errorf("trial %d: ρ = 0.05: %+v, ID %s", i, c.Spec.SAM, c.ID)
		}
	}
}

// TestBadSAM: bad sam and swa settings are reported with field path, value
// and line (the reference sweep: N = 1024, B ∈ {16, 64, 256}, 20 epochs).
func TestBadSAM(t *testing.T) {
	after := func(old, add string) []byte { return replace(t, old, old+add) }
	train := func(add string) []byte { return after("  epochs: 20\n", add) }
	grid := func(add string) []byte { return after("  seed: [1, 2]\n", add) }
	for _, c := range []struct {
		name     string
		yaml     []byte
		contains []string
	}{
		{"negative rho", train("  sam: {rho: -1}\n"), []string{"bad.yaml:19:", "train.sam.rho = -1", "must be finite and ≥ 0"}},
		{"nan rho", train("  sam: {rho: .nan}\n"), []string{"train.sam.rho = .nan"}},
		{"adaptive without rho", train("  sam: {adaptive: true}\n"), []string{"train.sam.adaptive = true", "needs sam.rho > 0"}},
		{"eta without adaptive", train("  sam: {rho: 0.05, eta: 0.1}\n"), []string{"train.sam.eta = 0.1", "only for adaptive"}},
		{"negative eta", train("  sam: {rho: 0.5, adaptive: true, eta: -0.1}\n"), []string{"train.sam.eta = -0.1", "finite and > 0"}},
		{"zero eta", train("  sam: {rho: 0.5, adaptive: true, eta: 0}\n"), []string{"train.sam.eta = 0", "omit the field for its default 0.01"}},
		{"m without rho", train("  sam: {m: 4}\n"), []string{"train.sam.m = 4", "needs sam.rho > 0"}},
		{"negative m", train("  sam: {rho: 0.05, m: -4}\n"), []string{"train.sam.m = -4", "must be ≥ 0"}},
		{"m not dividing B", train("  sam: {rho: 0.05, m: 32}\n"), []string{"bad.yaml:19:", "train.sam.m = 32", "grid.batch_size[0] = 16", "does not divide the batch size 16"}},
		// m divides B₀·k whenever it divides B₀: only clamping to N misfits.
		{"m not dividing a clamped B", []byte(strings.Replace(string(train("  sam: {rho: 0.05, m: 16}\n  schedule: {batch: {milestones: [5], factor: 5}}\n")), "  n: 1024\n", "  n: 1000\n", 1)),
			[]string{"train.sam.m = 16", "grid.batch_size[2] = 256", "does not divide the batch size 1000 (batch_size 256 under schedule.batch)"}},
		{"m above B", train("  sam: {rho: 0.05, m: 256}\n"), []string{"train.sam.m = 256", "does not divide the batch size 16"}},
		{"grid m not dividing B", grid("  sam_rho: [0.05]\n  sam_m: [4, 32]\n"), []string{"grid.sam_m[1] = 32", "grid.batch_size[0] = 16"}},
		{"grid rho negative", grid("  sam_rho: [0, -0.05]\n"), []string{"bad.yaml:27:", "grid.sam_rho[1] = -0.05", "must be finite and ≥ 0"}},
		{"grid rho duplicate", grid("  sam_rho: [0.05, 5e-2]\n"), []string{"grid.sam_rho[1] = 5e-2", "duplicate"}},
		{"grid rho empty", grid("  sam_rho: []\n"), []string{"grid.sam_rho = []", "empty list"}},
		{"grid m negative", grid("  sam_rho: [0.05]\n  sam_m: [-1]\n"), []string{"grid.sam_m[0] = -1", "must be ≥ 0"}},
		{"grid m with rho 0", grid("  sam_rho: [0, 0.05]\n  sam_m: [4]\n"), []string{"grid.sam_m = […]", "needs sam.rho > 0"}},
		{"grid rho twice", append(train("  sam: {rho: 0.05}\n"), "  sam_rho: [0.1]\n"...), []string{"grid.sam_rho = […]", "not both"}},
		{"grid m twice", append(train("  sam: {rho: 0.05, m: 4}\n"), "  sam_m: [8]\n"...), []string{"grid.sam_m = […]", "not both"}},
		{"unknown sam field", train("  sam: {radius: 0.05}\n"), []string{"train.sam.radius", "unknown field"}},
		{"swa negative", train("  swa: {start: -1}\n"), []string{"train.swa.start = -1", "must be ≥ 1"}},
		{"swa after epochs", train("  swa: {start: 21}\n"), []string{"bad.yaml:19:", "train.swa.start = 21", "must be ≤ epochs (20)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.yaml, "bad.yaml")
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			for _, sub := range c.contains {
				if !strings.Contains(err.Error(), sub) {
					t.Errorf("error %q does not contain %q", err, sub)
				}
			}
		})
	}
}

// TestSWABudgetAtEveryBatchSize: the SWA start is checked against the
// epochs a step budget runs at every batch size of the grid, not only the
// first: 4 updates at N = 64 are 4 epochs at B = 64 but 1 at B = 8.
func TestSWABudgetAtEveryBatchSize(t *testing.T) {
	const sweep = `name: swa
dataset: {name: synthetic, n: 64, n_test: 16, seed: 1}
model: {arch: mlp, hidden: [4]}
train: {steps: 4, swa: {start: 3}}
curvature: {lanczos_steps: 2}
grid: {batch_size: [64, 8], lr: [0.1], seed: [1]}
`
	_, err := Parse([]byte(sweep), "swa.yaml")
	if err == nil || !strings.Contains(err.Error(), "train.swa.start = 3") || !strings.Contains(err.Error(), "grid.batch_size[1] = 8") {
		t.Errorf("SWA from epoch 3 of a 1-epoch trial: %v", err)
	}
	if _, err := Parse([]byte(strings.Replace(sweep, "[64, 8]", "[64, 48]", 1)), "swa.yaml"); err != nil {
		t.Errorf("SWA from epoch 3 of 4 at both batch sizes: %v", err)
	}
}
