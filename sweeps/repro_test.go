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

// TestSmithLeNoiseScaleSweep: Smith & Le's B × ε × N grid with a momentum
// axis — every combination of 4 learning rates, 7 batch sizes dividing N, 2
// training-set sizes and 2 momenta (0 and a heavy ball) at 3 seeds, plain
// SGD at a fixed number of epochs — so that the noise scale
// g = ε/(1 − m)·(N/B − 1) takes each value of εN/(B(1 − m)) at several
// (ε, N, m) and B_opt can be fitted against each of them.
func TestSmithLeNoiseScaleSweep(t *testing.T) {
	s, err := Load("smith-le-noise-scale.yaml")
	if err != nil {
		t.Fatal(err)
	}
	trials := Expand(s)
	type key struct {
		n, b int
		lr   float64
		m    float64
	}
	seeds := map[key][]int64{}
	lrs, bs, ns, ms := map[float64]bool{}, map[int]bool{}, map[int]bool{}, map[float64]bool{}
	for _, tr := range trials {
		sp := tr.Spec
		if sp.Optimizer.Name != "" && sp.Optimizer.Name != "sgd" || sp.Epochs != trials[0].Spec.Epochs || sp.Epochs == 0 || sp.WeightDecay != 0 {
			t.Errorf("trial %d: optimizer %+v, epochs %d, weight decay %v", tr.Index, sp.Optimizer, sp.Epochs, sp.WeightDecay)
		}
		if sp.Dataset.N%sp.BatchSize != 0 {
			t.Errorf("trial %d: B = %d does not divide N = %d", tr.Index, sp.BatchSize, sp.Dataset.N)
		}
		k := key{sp.Dataset.N, sp.BatchSize, sp.LR, sp.Optimizer.Momentum}
		seeds[k] = append(seeds[k], sp.Seed)
		lrs[sp.LR], bs[sp.BatchSize], ns[sp.Dataset.N], ms[sp.Optimizer.Momentum] = true, true, true, true
	}
	if len(lrs) < 4 || len(bs) < 6 || len(ns) < 2 || len(ms) < 2 || !ms[0] {
		t.Errorf("%d learning rates, %d batch sizes, %d training-set sizes, momenta %v: want ≥ 4, ≥ 6, ≥ 2 and {0, m}", len(lrs), len(bs), len(ns), ms)
	}
	if want := len(lrs) * len(bs) * len(ns) * len(ms); len(seeds) != want {
		t.Errorf("%d grid points, want the full product %d", len(seeds), want)
	}
	for k, ss := range seeds {
		if len(ss) < 3 {
			t.Errorf("%+v: seeds %v, want ≥ 3", k, ss)
		}
	}
}

// TestDinhReparametrizationSweep: every trial runs Dinh's check at one α ≠ 1
// on the first Dense–ReLU–Dense pair of a ReLU MLP, with the raw measures
// (λ₁, the trace, Keskar's ε-sharpness) beside the reparametrization-aware
// ones (adaptive sharpness, relative flatness, the Fisher–Rao norm); α is an
// axis with values on both sides of 1, and each α repeats the same training
// (the same batch sizes, learning rate and seeds).
func TestDinhReparametrizationSweep(t *testing.T) {
	s, err := Load("dinh-reparametrization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	trials := Expand(s)
	train := map[float64][]string{} // α → the training settings of its trials, in order
	for _, tr := range trials {
		sp := tr.Spec
		a := sp.Curvature.Dinh.Alpha
		if a <= 0 || a == 1 || sp.Curvature.Dinh.Layer != 0 || sp.Model.Arch != spec.ArchMLP || sp.Model.Activation != "relu" {
			t.Errorf("trial %d: dinh %+v, model %+v", tr.Index, sp.Curvature.Dinh, sp.Model)
		}
		for _, m := range []string{"top_k", "trace", "keskar", "adaptive", "relative", "fisher_rao"} {
			if _, ok := sp.Curvature.Measures.Settings(m); !ok {
				t.Errorf("trial %d: no %s", tr.Index, m)
			}
		}
		if set, _ := sp.Curvature.Measures.Settings("adaptive"); set.(spec.AdaptiveSettings).Plain {
			t.Errorf("trial %d: plain (not adaptive) sharpness", tr.Index)
		}
		sp.Curvature = spec.Curvature{}
		train[a] = append(train[a], spec.ID(sp))
	}
	below, above := false, false
	var first []string
	for a, ids := range train {
		below, above = below || a < 1, above || a > 1
		if first == nil {
			first = ids
		}
		if !slices.Equal(ids, first) {
			t.Errorf("α = %v trains other networks than the other α", a)
		}
	}
	if len(train) < 3 || !below || !above || len(first) < 6 {
		t.Errorf("α values %v, %d trainings each: want ≥ 3 values on both sides of 1, ≥ 6 trainings", len(train), len(first))
	}
}

// TestSkipConnectionsSweep: plain ReLU MLPs against residual MLPs of the
// same width and depth — a resmlp with k blocks has 2k + 2 Dense layers, as
// an mlp with 2k + 1 hidden layers — at two depths, the same training for
// every model, with the most negative Hessian eigenvalue beside λ₁ and a 2-D
// filter-normalized landscape.
func TestSkipConnectionsSweep(t *testing.T) {
	s, err := Load("skip-connections.yaml")
	if err != nil {
		t.Fatal(err)
	}
	trials := Expand(s)
	type depth struct{ dense, width int }
	archs := map[depth]map[string]int{}
	for _, tr := range trials {
		sp := tr.Spec
		d := depth{len(sp.Model.Hidden) + 1, 0}
		if len(sp.Model.Hidden) > 0 {
			d.width = sp.Model.Hidden[0]
		}
		if sp.Model.Arch == spec.ArchResMLP {
			d = depth{2*sp.Model.Blocks + 2, sp.Model.Width}
		}
		for _, w := range sp.Model.Hidden {
			if w != d.width {
				t.Errorf("trial %d: hidden widths %v differ", tr.Index, sp.Model.Hidden)
			}
		}
		if archs[d] == nil {
			archs[d] = map[string]int{}
		}
		archs[d][sp.Model.Arch]++
		set, ok := sp.Curvature.Measures.Settings("top_k")
		if !ok || set.(spec.TopKSettings).Negative < 1 || sp.Curvature.Landscape.Dims != 2 {
			t.Errorf("trial %d: top_k %+v (%v), landscape %+v", tr.Index, set, ok, sp.Curvature.Landscape)
		}
		if sp.BatchSize != trials[0].Spec.BatchSize || sp.LR != trials[0].Spec.LR || sp.Epochs != trials[0].Spec.Epochs || sp.Optimizer != trials[0].Spec.Optimizer {
			t.Errorf("trial %d: trained otherwise than trial 0", tr.Index)
		}
	}
	if len(archs) != 2 {
		t.Errorf("depths %v, want two", archs)
	}
	for d, n := range archs {
		if n[spec.ArchMLP] < 3 || n[spec.ArchMLP] != n[spec.ArchResMLP] {
			t.Errorf("%d Dense layers of width %d: %v trials, want as many mlp as resmlp (≥ 3 seeds)", d.dense, d.width, n)
		}
	}
}

// TestOccamEvidenceSweep: the Laplace evidence (Gauss–Newton, one prior
// precision for every trial) across label-noise levels that move the test
// cross-entropy, at two batch sizes and three seeds, on the whole training
// set (M = N).
func TestOccamEvidenceSweep(t *testing.T) {
	s, err := Load("occam-evidence.yaml")
	if err != nil {
		t.Fatal(err)
	}
	trials := Expand(s)
	noise, lambda := map[float64]int{}, map[float64]bool{}
	for _, tr := range trials {
		sp := tr.Spec
		set, ok := sp.Curvature.Measures.Settings("evidence")
		if !ok {
			t.Fatalf("trial %d: no evidence measure", tr.Index)
		}
		ev := set.(spec.EvidenceSettings)
		if ev.Operator != "" && ev.Operator != spec.OperatorGaussNewton || sp.Curvature.Examples != 0 {
			t.Errorf("trial %d: operator %q, %d curvature examples", tr.Index, ev.Operator, sp.Curvature.Examples)
		}
		lambda[ev.Lambda] = true
		noise[sp.Dataset.LabelNoise]++
	}
	if len(lambda) != 1 || len(noise) < 3 || noise[0] == 0 || len(trials) < 12 {
		t.Errorf("λ %v, label noise %v, %d trials: want one prior, ≥ 3 noise levels with 0, ≥ 12 trials", lambda, noise, len(trials))
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
