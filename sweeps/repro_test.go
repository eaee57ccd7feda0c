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

// TestKeskarSBLBSweep: keskar-sb-lb is keskar-f1's grid, trial for trial
// (SB = 256 against LB = 10 % of N, the same seeds, data, network, optimizer
// and budget), with Keskar's ε-sharpness in both spaces — the full space and
// a random 100-dimensional subspace — at ε = 1e-3 and 5e-4, 10 iterations.
func TestKeskarSBLBSweep(t *testing.T) {
	f1, err := Load("keskar-f1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sblb, err := Load("keskar-sb-lb.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, b := Expand(f1), Expand(sblb)
	if len(b) != 10 || len(a) != len(b) {
		t.Fatalf("%d trials (keskar-f1 %d), want 2 batch sizes × 5 seeds", len(b), len(a))
	}
	for i := range b {
		f, s := a[i].Spec, b[i].Spec
		if s.BatchSize != f.BatchSize || s.LR != f.LR || s.Seed != f.Seed || s.Epochs != f.Epochs ||
			!reflect.DeepEqual(s.Dataset, f.Dataset) || !reflect.DeepEqual(s.Model, f.Model) ||
			!reflect.DeepEqual(s.Training, f.Training) {
			t.Errorf("trial %d: not keskar-f1's trial %d: %+v against %+v", i, i, s, f)
		}
		if want := []int{256, 800}[i/5]; s.BatchSize != want || s.Dataset.N/10 != 800 {
			t.Errorf("trial %d: B = %d with N = %d, want %d", i, s.BatchSize, s.Dataset.N, want)
		}
		set, ok := s.Curvature.Measures.Settings("keskar")
		m, err := spec.LookupMeasure("keskar")
		if err != nil {
			t.Fatal(err)
		}
		k, _ := m.WithDefaults(set).(spec.KeskarSettings) // the spec stores defaults as zero
		if !ok || k.Space != "both" || k.Subspace != 100 ||
			!slices.Equal(k.Epsilons, []float64{1e-3, 5e-4}) || k.Iterations != 10 {
			t.Errorf("trial %d: keskar %+v %v, want both spaces, p = 100, ε = 1e-3 and 5e-4, 10 iterations", i, set, ok)
		}
	}
}

// TestEdgeOfStabilitySweep: full-batch gradient descent (batch_size = n at
// every trial, plain SGD without momentum or a schedule) on a tanh MLP with
// squared error, at two step sizes, with λ₁ tracked over the whole training
// set every 50 updates of a 4,000-update budget.
func TestEdgeOfStabilitySweep(t *testing.T) {
	s, err := Load("edge-of-stability.yaml")
	if err != nil {
		t.Fatal(err)
	}
	trials := Expand(s)
	if len(trials) != 6 {
		t.Fatalf("%d trials, want 2 step sizes × 3 seeds", len(trials))
	}
	for i, tr := range trials {
		sp := tr.Spec
		if sp.BatchSize != sp.Dataset.N || sp.Optimizer != (spec.Optimizer{}) || !reflect.DeepEqual(sp.Schedule, spec.Schedule{}) {
			t.Errorf("trial %d: B = %d, N = %d, optimizer %+v, schedule %+v: not full-batch gradient descent", i, sp.BatchSize, sp.Dataset.N, sp.Optimizer, sp.Schedule)
		}
		if want := []float64{0.25, 0.3}[i/3]; sp.LR != want || sp.Seed != int64(i%3+1) {
			t.Errorf("trial %d: ε %v seed %d, want ε %v seed %d", i, sp.LR, sp.Seed, want, i%3+1)
		}
		if sp.Model.Loss != spec.LossMSE || sp.Model.Activation != spec.ActivationTanh || sp.Steps != 4000 || sp.Epochs != 0 {
			t.Errorf("trial %d: loss %q activation %q steps %d epochs %d", i, sp.Model.Loss, sp.Model.Activation, sp.Steps, sp.Epochs)
		}
		if tk := sp.Curvature.Track; tk.Every != 50 || tk.Unit != "step" || tk.Examples != -1 {
			t.Errorf("trial %d: track %+v, want every 50 steps on the whole training set", i, tk)
		}
	}
}

// TestKeskarWarmStartSweep: keskar-warm-start trains keskar-sb-lb's SB
// setting and, for k = 1, 2, 5 and 10, switches to B × 3 = 768 after k epochs
// for 20 more; its schedule-free point is keskar-sb-lb's SB trial, ID for ID.
func TestKeskarWarmStartSweep(t *testing.T) {
	ws, err := Load("keskar-warm-start.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sblb, err := Load("keskar-sb-lb.yaml")
	if err != nil {
		t.Fatal(err)
	}
	trials, base := Expand(ws), Expand(sblb)
	if len(trials) != 15 {
		t.Fatalf("%d trials, want 5 schedules × 3 seeds", len(trials))
	}
	for i, tr := range trials {
		s, k, seed := tr.Spec, []int{0, 1, 2, 5, 10}[i/3], int64(i%3+1)
		if s.Seed != seed || s.BatchSize != 256 {
			t.Errorf("trial %d: seed %d, B %d, want seed %d, B 256", i, s.Seed, s.BatchSize, seed)
		}
		if k == 0 {
			if tr.ID != base[i].ID || s.Epochs != 20 || !reflect.DeepEqual(s.Schedule, spec.Schedule{}) {
				t.Errorf("trial %d: %s (epochs %d, schedule %+v), want keskar-sb-lb's SB trial %s", i, tr.ID, s.Epochs, s.Schedule, base[i].ID)
			}
			continue
		}
		if b := s.Schedule.Batch; !slices.Equal(b.Milestones, []int{k}) || b.Factor != 3 || s.Epochs != k+20 || s.Schedule.LR.Kind != "" {
			t.Errorf("trial %d: schedule %+v over %d epochs, want B × 3 after %d of %d", i, s.Schedule, s.Epochs, k, k+20)
		}
		// Everything else is keskar-sb-lb's SB trial of the same seed.
		b := base[i%3].Spec
		if !reflect.DeepEqual(s.Dataset, b.Dataset) || !reflect.DeepEqual(s.Model, b.Model) || s.Optimizer != b.Optimizer ||
			s.LR != b.LR || !reflect.DeepEqual(s.Curvature, b.Curvature) {
			t.Errorf("trial %d: differs from keskar-sb-lb's SB trial beyond the schedule and the budget", i)
		}
	}
}

// TestKeskarAugmentationSweep: SB = 256 and LB = 800 with and without
// random translations of up to 2 pixels; the unaugmented trials are
// keskar-sb-lb's, ID for ID.
func TestKeskarAugmentationSweep(t *testing.T) {
	aug, err := Load("keskar-augmentation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sblb, err := Load("keskar-sb-lb.yaml")
	if err != nil {
		t.Fatal(err)
	}
	trials, base := Expand(aug), Expand(sblb)
	if len(trials) != 12 {
		t.Fatalf("%d trials, want 2 augmentations × 2 batch sizes × 3 seeds", len(trials))
	}
	byID := map[string]bool{}
	for _, b := range base {
		byID[b.ID] = true
	}
	for i, tr := range trials {
		s := tr.Spec
		shift, batch, seed := []int{0, 2}[i/6], []int{256, 800}[i/3%2], int64(i%3+1)
		if s.Augment.Shift != shift || s.BatchSize != batch || s.Seed != seed || s.Epochs != 20 {
			t.Errorf("trial %d: shift %d B %d seed %d epochs %d, want shift %d B %d seed %d", i, s.Augment.Shift, s.BatchSize, s.Seed, s.Epochs, shift, batch, seed)
		}
		if byID[tr.ID] != (shift == 0) {
			t.Errorf("trial %d (shift %d): %s in keskar-sb-lb %v", i, shift, tr.ID, byID[tr.ID])
		}
	}
}
