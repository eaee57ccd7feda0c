package sweeps

import (
	"reflect"
	"slices"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// TestYaoBatchSpectrumSweeps: the two Yao et al. sweeps are the same grid
// (batch sizes 16 … 1,024 dividing N, at one ε, the same seeds, model and
// data) measuring the five largest Hessian eigenvalues, one with the number
// of updates matched (train.steps, no epochs) and one with the epochs fixed.
func TestYaoBatchSpectrumSweeps(t *testing.T) {
	steps, err := Load("yao-batch-spectrum.yaml")
	if err != nil {
		t.Fatal(err)
	}
	epochs, err := Load("yao-batch-spectrum-epochs.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, b := Expand(steps), Expand(epochs)
	if len(a) != 12 || len(b) != len(a) {
		t.Fatalf("%d and %d trials, want 12 each", len(a), len(b))
	}
	for i := range a {
		s, e := a[i].Spec, b[i].Spec
		if s.Steps != 2048 || s.Epochs != 0 || e.Epochs != 8 || e.Steps != 0 {
			t.Errorf("trial %d: steps %d epochs %d, and steps %d epochs %d in the fixed-epoch variant", i, s.Steps, s.Epochs, e.Steps, e.Epochs)
		}
		if s.BatchSize != e.BatchSize || s.LR != e.LR || s.Seed != e.Seed || s.Dataset.N%s.BatchSize != 0 ||
			!slices.Equal(s.Model.Hidden, e.Model.Hidden) || !reflect.DeepEqual(s.Dataset, e.Dataset) {
			t.Errorf("trial %d: (B %d, ε %v, seed %d, N %d) against (B %d, ε %v, seed %d)", i, s.BatchSize, s.LR, s.Seed, s.Dataset.N, e.BatchSize, e.LR, e.Seed)
		}
		// k = 5 is top_k's default, which the spec stores as 0.
		if set, ok := s.Curvature.Measures.Settings("top_k"); !ok || !slices.Contains([]int{0, 5}, set.(spec.TopKSettings).K) {
			t.Errorf("trial %d: top_k %v %v, want k = 5", i, set, ok)
		}
	}
}

// TestIncreaseBatchVsDecayLRSweep: the three schedules of Smith et al.
// (2018) at every seed — ε divided by 4 at epochs 10 and 20, B multiplied by
// 4 at the same epochs, and neither — so that the first two have the same
// noise scale εN/B at every epoch and the third keeps it at its start.
func TestIncreaseBatchVsDecayLRSweep(t *testing.T) {
	s, err := Load("increase-batch-vs-decay-lr.yaml")
	if err != nil {
		t.Fatal(err)
	}
	trials := Expand(s)
	if len(trials) != 15 {
		t.Fatalf("%d trials, want 3 schedules × 5 seeds", len(trials))
	}
	// ratio returns ε/B at the given epoch (1-based) under the trial's schedules.
	ratio := func(tr spec.Trial, epoch int) float64 {
		lr, b := tr.LR, float64(tr.BatchSize)
		for _, m := range tr.Schedule.LR.Milestones {
			if epoch > m {
				lr *= tr.Schedule.LR.Gamma
			}
		}
		for _, m := range tr.Schedule.Batch.Milestones {
			if epoch > m {
				b *= float64(tr.Schedule.Batch.Factor)
			}
		}
		return lr / b
	}
	for seed := range 5 {
		decay, grow, constant := trials[seed].Spec, trials[5+seed].Spec, trials[10+seed].Spec
		if decay.Schedule.LR.Kind != spec.ScheduleStep || grow.Schedule.Batch.Factor != 4 || len(constant.Schedule.LR.Milestones)+len(constant.Schedule.Batch.Milestones) != 0 {
			t.Fatalf("seed %d: schedules %+v, %+v, %+v", seed, decay.Schedule, grow.Schedule, constant.Schedule)
		}
		for epoch := 1; epoch <= decay.Epochs; epoch++ {
			d, g, c := ratio(decay, epoch), ratio(grow, epoch), ratio(constant, epoch)
			if d != g || (epoch > 10 && !(d < c)) || (epoch <= 10 && d != c) {
				t.Errorf("seed %d, epoch %d: ε/B %v (decaying ε), %v (growing B), %v (constant)", seed, epoch, d, g, c)
			}
		}
	}
}
