package train_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/flatsweep/flatsweep/compute/data"
	"github.com/flatsweep/flatsweep/compute/nn"
	"github.com/flatsweep/flatsweep/compute/train"
)

const tol = 1e-12

func near(a, b float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

// TestUpdaterClosedForm checks two steps of every rule against the formulas
// of Optimizer, written out by hand for θ₀ = (1, −2) and fixed gradients.
func TestUpdaterClosedForm(t *testing.T) {
	th0 := []float64{1, -2}
	g1, g2 := []float64{0.5, -1}, []float64{0.25, 2}
	const lr, m = 0.1, 0.9
	const b1, b2, eps = 0.8, 0.99, 1e-3
	want := map[string]func(i int) float64{
		"sgd": func(i int) float64 { return th0[i] - lr*g1[i] - lr*g2[i] },
		"heavy ball": func(i int) float64 {
			v1 := g1[i]
			v2 := m*v1 + g2[i]
			return th0[i] - lr*v1 - lr*v2
		},
		"nesterov": func(i int) float64 {
			v1 := g1[i]
			th1 := th0[i] - lr*(g1[i]+m*v1)
			v2 := m*v1 + g2[i]
			return th1 - lr*(g2[i]+m*v2)
		},
		"adam": func(i int) float64 {
			m1, s1 := (1-b1)*g1[i], (1-b2)*g1[i]*g1[i]
			th1 := th0[i] - lr*(m1/(1-b1))/(math.Sqrt(s1/(1-b2))+eps)
			m2 := b1*m1 + (1-b1)*g2[i]
			s2 := b2*s1 + (1-b2)*g2[i]*g2[i]
			return th1 - lr*(m2/(1-b1*b1))/(math.Sqrt(s2/(1-b2*b2))+eps)
		},
	}
	opts := map[string]train.Optimizer{
		"sgd":        {},
		"heavy ball": {Momentum: m},
		"nesterov":   {Momentum: m, Nesterov: true},
		"adam":       {Kind: train.KindAdam, Beta1: b1, Beta2: b2, Eps: eps},
	}
	for name, opt := range opts {
		u, err := train.NewUpdater(opt, 2)
		if err != nil {
			t.Fatal(err)
		}
		th := slices.Clone(th0)
		u.Step(th, g1, lr)
		u.Step(th, g2, lr)
		for i := range th {
			if w := want[name](i); !near(th[i], w) {
				t.Errorf("%s: θ[%d] = %.17g, want %.17g", name, i, th[i], w)
			}
		}
		if u.Steps() != 2 {
			t.Errorf("%s: Steps = %d", name, u.Steps())
		}
	}
	// Adam's defaults: the first step moves every coordinate by ≈ ε sign(g).
	u, _ := train.NewUpdater(train.Optimizer{Kind: train.KindAdam}, 2)
	th := slices.Clone(th0)
	u.Step(th, g1, lr)
	for i := range th {
		if w := th0[i] - lr*g1[i]/(math.Abs(g1[i])+train.DefaultEps); !near(th[i], w) {
			t.Errorf("adam defaults: θ[%d] = %v, want %v", i, th[i], w)
		}
	}
}

// tiny is the one-example regression problem z = w·x + b with x = 2 and loss
// ½(z − 1)², whose gradient is ((z−1)x, z−1).
func tiny(t *testing.T) (*nn.Network, data.Set) {
	t.Helper()
	net, err := nn.New(nn.MeanSquaredError{}, &nn.Dense{In: 1, Out: 1, Gain: 1})
	if err != nil {
		t.Fatal(err)
	}
	return net, data.Set{X: []float64{2}, Y: []int{0}, Features: 1, Classes: 1}
}

// TestTrainClosedForm: three epochs of one full-batch step each, with
// Nesterov momentum and a step schedule, match the hand-computed iterates.
func TestTrainClosedForm(t *testing.T) {
	net, set := tiny(t)
	theta := []float64{0.5, -0.25} // w, b
	const lr, m, gamma = 0.05, 0.5, 0.1
	res, err := train.Train(context.Background(), net, theta, set, set, train.Config{
		BatchSize: 1, LR: lr, Epochs: 3, Rng: rand.New(rand.NewPCG(1, 1)),
		Optimizer:  train.Optimizer{Momentum: m, Nesterov: true},
		LRSchedule: train.LRSchedule{Kind: train.LRStep, Milestones: []int{2}, Gamma: gamma},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, b, vw, vb := 0.5, -0.25, 0.0, 0.0
	for e, eps := range []float64{lr, lr, lr * gamma} { // milestone 2: epochs 1–2 use ε, epoch 3 γε
		r := 2*w + b - 1
		gw, gb := 2*r, r
		vw, vb = m*vw+gw, m*vb+gb
		w -= eps * (gw + m*vw)
		b -= eps * (gb + m*vb)
		if got := res.Curve[e].LR; !near(got, eps) {
			t.Errorf("epoch %d: lr %v, want %v", e+1, got, eps)
		}
	}
	if !near(theta[0], w) || !near(theta[1], b) || res.Steps != 3 {
		t.Errorf("θ = %v after %d steps, want [%v %v] after 3", theta, res.Steps, w, b)
	}
	if want := 0.5 * math.Pow(2*w+b-1, 2); !near(res.Final.TrainLoss, want) {
		t.Errorf("final loss %v, want %v", res.Final.TrainLoss, want)
	}
}

func TestLRSchedule(t *testing.T) {
	step := train.LRSchedule{Kind: train.LRStep, Milestones: []int{2, 4}, Gamma: 0.5}
	for e, want := range []float64{1, 1, 0.5, 0.5, 0.25, 0.25} {
		if got := step.Rate(1, e+1, 0, 10); got != want {
			t.Errorf("step: epoch %d: %v, want %v", e+1, got, want)
		}
	}
	cos := train.LRSchedule{Kind: train.LRCosine, Floor: 0.1}
	for _, c := range []struct{ step, total int }{{0, 8}, {2, 8}, {4, 8}, {8, 8}} {
		want := 0.2 + 1.8*(1+math.Cos(math.Pi*float64(c.step)/float64(c.total)))/2
		if got := cos.Rate(2, 1, c.step, c.total); !near(got, want) {
			t.Errorf("cosine: step %d/%d: %v, want %v", c.step, c.total, got, want)
		}
	}
	if got := cos.Rate(2, 1, 4, 8); !near(got, 1.1) {
		t.Errorf("cosine midpoint %v, want 1.1", got)
	}
	if got := (train.LRSchedule{}).Rate(3, 7, 5, 9); got != 3 {
		t.Errorf("constant: %v", got)
	}
}

func TestBatchSchedule(t *testing.T) {
	s := train.BatchSchedule{Milestones: []int{1, 3}, Factor: 5}
	for e, want := range []int{10, 50, 50, 200} {
		if got := s.Size(10, 200, e+1); got != want {
			t.Errorf("epoch %d: B = %d, want %d", e+1, got, want)
		}
	}
	if got := (train.BatchSchedule{Milestones: []int{1}, Factor: 1 << 62}).Size(3, 100, 2); got != 100 {
		t.Errorf("huge factor: B = %d, want 100", got)
	}
}

// TestTrainSchedules: per-epoch B and ε as scheduled, ⌊N/B_e⌋ steps per epoch
// (the partial last batch dropped), cosine over the whole budget.
func TestTrainSchedules(t *testing.T) {
	net, theta, tr, te := setup(t)
	res, err := train.Train(context.Background(), net, theta, tr, te, train.Config{
		BatchSize: 30, LR: 0.2, Epochs: 3, Rng: rand.New(rand.NewPCG(2, 2)),
		BatchSchedule: train.BatchSchedule{Milestones: []int{2}, Factor: 3},
		LRSchedule:    train.LRSchedule{Kind: train.LRCosine},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// N = 200: epochs with B = 30, 30, 90 take 6, 6 and 2 steps.
	wantB, wantSteps := []int{30, 30, 90}, []int{6, 12, 14}
	for e, m := range res.Curve {
		lastLR := 0.2 * (1 + math.Cos(math.Pi*float64(m.Step-1)/14)) / 2
		if m.BatchSize != wantB[e] || m.Step != wantSteps[e] || !near(m.LR, lastLR) {
			t.Errorf("epoch %d: B %d, step %d, lr %v; want %d, %d, %v", e+1, m.BatchSize, m.Step, m.LR, wantB[e], wantSteps[e], lastLR)
		}
	}
	if res.Steps != 14 || len(res.Curve) != 3 {
		t.Errorf("steps %d, curve %d", res.Steps, len(res.Curve))
	}
}

// TestStepBudget: a step budget ends inside an epoch with a final report.
func TestStepBudget(t *testing.T) {
	for _, c := range []struct{ steps, curve, lastEpoch int }{{15, 3, 3}, {12, 2, 2}, {1, 1, 1}} {
		net, theta, tr, te := setup(t)
		var seen []train.Metrics
		res, err := train.Train(context.Background(), net, theta, tr, te, train.Config{
			BatchSize: 30, LR: 0.1, Steps: c.steps, Rng: rand.New(rand.NewPCG(2, 2)),
		}, func(m train.Metrics) { seen = append(seen, m) })
		if err != nil {
			t.Fatal(err)
		}
		last := res.Curve[len(res.Curve)-1]
		if res.Steps != c.steps || len(res.Curve) != c.curve || len(seen) != c.curve ||
			last.Epoch != c.lastEpoch || last.Step != c.steps || res.Final != last {
			t.Errorf("steps %d: got %d steps, curve %+v", c.steps, res.Steps, res.Curve)
		}
	}
}

func TestShift(t *testing.T) {
	// Two channels of 3×4 pixels, values 1…24.
	src := make([]float64, 24)
	for i := range src {
		src[i] = float64(i + 1)
	}
	dst := make([]float64, 24)
	train.Shift(dst, src, 2, 3, 4, 1, -1) // one row down, one column left
	want := []float64{
		0, 0, 0, 0,
		2, 3, 4, 0,
		6, 7, 8, 0,
		0, 0, 0, 0,
		14, 15, 16, 0,
		18, 19, 20, 0,
	}
	if !slices.Equal(dst, want) {
		t.Errorf("Shift(1, −1) =\n%v\nwant\n%v", dst, want)
	}
	train.Shift(dst, src, 2, 3, 4, 0, 0)
	if !slices.Equal(dst, src) {
		t.Error("Shift(0, 0) is not the identity")
	}
	train.Shift(dst, src, 2, 3, 4, 0, 4)
	if slices.ContainsFunc(dst, func(x float64) bool { return x != 0 }) {
		t.Error("a shift by the width does not clear the image")
	}
	train.Shift(dst, src, 1, 3, 4, -2, 2)
	if want := []float64{0, 0, 9, 10, 0, 0, 0, 0, 0, 0, 0, 0}; !slices.Equal(dst[:12], want) {
		t.Errorf("Shift(−2, 2) = %v, want %v", dst[:12], want)
	}
}

// TestAugmentDeterminism: augmented runs are bit-identical, differ from
// unaugmented ones, and depend on the augmentation seed.
func TestAugmentDeterminism(t *testing.T) {
	run := func(aug train.Augment) []float64 {
		net, theta, tr, te := setup(t)
		_, err := train.Train(context.Background(), net, theta, tr, te, train.Config{
			BatchSize: 20, LR: 0.1, Epochs: 2, Rng: rand.New(rand.NewPCG(2, 2)), Augment: aug,
			Optimizer: train.Optimizer{Momentum: 0.9},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return theta
	}
	aug := train.Augment{MaxShift: 1, Channels: 1, Height: 4, Width: 4, Seed: 7}
	a, b := run(aug), run(aug)
	if !slices.Equal(a, b) {
		t.Error("augmented runs differ")
	}
	if slices.Equal(a, run(train.Augment{})) {
		t.Error("augmentation changed nothing")
	}
	aug.Seed = 8
	if slices.Equal(a, run(aug)) {
		t.Error("augmentation seed changed nothing")
	}
}

func TestInvalidOptions(t *testing.T) {
	net, theta, tr, te := setup(t)
	rng := rand.New(rand.NewPCG(1, 1))
	base := train.Config{BatchSize: 10, LR: 0.1, Epochs: 1, Rng: rng}
	for name, mut := range map[string]func(*train.Config){
		"both budgets":       func(c *train.Config) { c.Steps = 3 },
		"negative steps":     func(c *train.Config) { c.Epochs, c.Steps = 0, -1 },
		"momentum 1":         func(c *train.Config) { c.Optimizer.Momentum = 1 },
		"nesterov without m": func(c *train.Config) { c.Optimizer.Nesterov = true },
		"adam with momentum": func(c *train.Config) { c.Optimizer = train.Optimizer{Kind: train.KindAdam, Momentum: 0.5} },
		"sgd with beta1":     func(c *train.Config) { c.Optimizer.Beta1 = 0.9 },
		"adam beta2 1":       func(c *train.Config) { c.Optimizer = train.Optimizer{Kind: train.KindAdam, Beta2: 1} },
		"unknown optimizer":  func(c *train.Config) { c.Optimizer.Kind = 9 },
		"step without gamma": func(c *train.Config) { c.LRSchedule = train.LRSchedule{Kind: train.LRStep, Milestones: []int{1}} },
		"unsorted milestones": func(c *train.Config) {
			c.LRSchedule = train.LRSchedule{Kind: train.LRStep, Milestones: []int{3, 2}, Gamma: 0.1}
		},
		"cosine floor 2":      func(c *train.Config) { c.LRSchedule = train.LRSchedule{Kind: train.LRCosine, Floor: 2} },
		"batch factor 1":      func(c *train.Config) { c.BatchSchedule = train.BatchSchedule{Milestones: []int{1}, Factor: 1} },
		"batch no milestones": func(c *train.Config) { c.BatchSchedule = train.BatchSchedule{Factor: 2} },
		"augment wrong shape": func(c *train.Config) { c.Augment = train.Augment{MaxShift: 1, Channels: 1, Height: 3, Width: 3} },
		"augment too far":     func(c *train.Config) { c.Augment = train.Augment{MaxShift: 4, Channels: 1, Height: 4, Width: 4} },
		"eval mismatch": func(c *train.Config) {
			other, _ := nn.NewMLP(16, []int{3}, 4, nn.ActReLU)
			c.Eval = other
		},
	} {
		c := base
		mut(&c)
		if _, err := train.Train(context.Background(), net, theta, tr, te, c, nil); !errors.Is(err, train.ErrConfig) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := train.NewUpdater(train.Optimizer{}, -1); !errors.Is(err, train.ErrConfig) {
		t.Errorf("NewUpdater(-1): %v", err)
	}
}

// TestWeightDecayEval: training on a regularized network while evaluating
// the plain one reports the unregularized loss.
func TestWeightDecayEval(t *testing.T) {
	net, theta, tr, te := setup(t)
	reg, err := net.WithWeightDecay(0.1, true)
	if err != nil {
		t.Fatal(err)
	}
	res, err := train.Train(context.Background(), reg, theta, tr, te, train.Config{
		BatchSize: 50, LR: 0.1, Epochs: 1, Rng: rand.New(rand.NewPCG(2, 2)), Eval: net}, nil)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := net.NewWorkspace(512).Loss(theta, tr.X, tr.Y)
	if res.Final.TrainLoss != plain {
		t.Errorf("reported %v, plain loss %v", res.Final.TrainLoss, plain)
	}
}
