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

// TestWhichMeasurePredictsSweep: the factorial study of Jiang et al. (2020)
// in miniature — two values each of the batch size, the learning rate, the
// width, the depth, the weight decay and the dropout rate, every
// combination at every seed (at least three), at least 200 trials, every
// trial trained to the same cross-entropy target and taking every measure of
// the registry that records a scalar, raw and reparametrization-aware ones
// alike, on the same curvature examples.
func TestWhichMeasurePredictsSweep(t *testing.T) {
	s, err := Load("which-measure-predicts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	trials := Expand(s)
	if len(trials) < 200 {
		t.Fatalf("%d trials, want at least 200", len(trials))
	}
	type config struct {
		b, width, depth int
		lr, wd, dropout float64
	}
	values := make([]map[any]bool, 6)
	for i := range values {
		values[i] = map[any]bool{}
	}
	seen := map[config]map[int64]bool{}
	first := trials[0].Spec
	for i, tr := range trials {
		sp := tr.Spec
		if len(sp.Model.Hidden) == 0 || slices.Min(sp.Model.Hidden) != slices.Max(sp.Model.Hidden) {
			t.Fatalf("trial %d: hidden %v, want layers of one width", i, sp.Model.Hidden)
		}
		c := config{b: sp.BatchSize, width: sp.Model.Hidden[0], depth: len(sp.Model.Hidden), lr: sp.LR, wd: sp.WeightDecay, dropout: sp.Model.Dropout}
		for k, v := range []any{c.b, c.width, c.depth, c.lr, c.wd, c.dropout} {
			values[k][v] = true
		}
		if seen[c] == nil {
			seen[c] = map[int64]bool{}
		}
		if seen[c][sp.Seed] {
			t.Errorf("trial %d: %+v at seed %d twice", i, c, sp.Seed)
		}
		seen[c][sp.Seed] = true
		if sp.Stop != (spec.Stop{TrainLoss: 0.01}) || sp.Epochs < 1 {
			t.Errorf("trial %d: stop %+v, budget %d epochs; want train_loss 0.01 within a cap of epochs", i, sp.Stop, sp.Epochs)
		}
		if sp.Dataset.N%sp.BatchSize != 0 || sp.Optimizer.Momentum != first.Optimizer.Momentum ||
			sp.Curvature.Examples != first.Curvature.Examples || sp.Curvature.Examples < 1 || sp.Curvature.Examples > sp.Dataset.N {
			t.Errorf("trial %d: N %d, B %d, momentum %v, curvature examples %d", i, sp.Dataset.N, sp.BatchSize, sp.Optimizer.Momentum, sp.Curvature.Examples)
		}
		if !reflect.DeepEqual(sp.Curvature.Measures.Names(), first.Curvature.Measures.Names()) || !reflect.DeepEqual(sp.Dataset, first.Dataset) {
			t.Errorf("trial %d: measures %v, data %+v, unlike trial 0's", i, sp.Curvature.Measures.Names(), sp.Dataset)
		}
	}
	for k, name := range []string{"batch_size", "width", "depth", "lr", "weight_decay", "dropout"} {
		if len(values[k]) != 2 {
			t.Errorf("%s takes %d values, want 2", name, len(values[k]))
		}
	}
	seeds := len(seen[config{b: first.BatchSize, width: first.Model.Hidden[0], depth: len(first.Model.Hidden), lr: first.LR, wd: first.WeightDecay, dropout: first.Model.Dropout}])
	if len(seen) != 64 || seeds < 3 || len(trials) != 64*seeds {
		t.Errorf("%d configurations with %d seeds in %d trials, want all 64 at every seed, at least 3", len(seen), seeds, len(trials))
	}
	for c, ss := range seen {
		if len(ss) != seeds {
			t.Errorf("%+v: %d seeds, want %d", c, len(ss), seeds)
		}
	}
	invariance := map[bool]int{}
	for _, m := range spec.Registry() {
		settings, ok := first.Curvature.Measures.Settings(m.Name)
		if !ok {
			settings = m.Settings
		}
		if records := m.Records(m.WithDefaults(settings)); len(records) > 0 && !ok {
			t.Errorf("measure %s (records %v) not selected", m.Name, records)
		}
		if ok {
			invariance[m.Invariance == spec.NotInvariant]++
		}
	}
	if invariance[true] == 0 || invariance[false] == 0 {
		t.Errorf("%d raw and %d reparametrization-aware measures, want both", invariance[true], invariance[false])
	}
}
