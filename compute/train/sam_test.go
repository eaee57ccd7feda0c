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

// The tests of this file compare Train with updates unrolled by hand from
// nn.Workspace.LossGrad; every parameter must agree to within tol (1e-12)
// relative to max(1, |θ_i|) — the two differ only in the order of roundings.

// samProblem is a small MLP (two weight matrices, two bias vectors) on 24
// synthetic examples: batches of 8 take three steps per epoch.
func samProblem(t *testing.T) (*nn.Network, []float64, data.Set) {
	t.Helper()
	tr, _, err := data.Synthetic(data.SyntheticConfig{N: 24, NTest: 8, Features: 5, Classes: 3, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	net, err := nn.NewMLP(tr.Features, []int{6}, tr.Classes, nn.ActTanh)
	if err != nil {
		t.Fatal(err)
	}
	theta := make([]float64, net.NumParams())
	net.Init(theta, rand.New(rand.NewPCG(4, 4)))
	// Non-zero biases, so that ASAM's treatment of them shows.
	for l, ly := range net.Layers() {
		if d, ok := ly.(*nn.Dense); ok {
			for i := net.Offset(l) + d.Out*d.In; i < net.Offset(l+1); i++ {
				theta[i] = 0.1 * float64(i%5-2)
			}
		}
	}
	return net, theta, tr
}

// denseBiases marks the bias entries of the Dense layers of an MLP: the last
// Out entries of each layer's slice (W row-major, then b).
func denseBiases(net *nn.Network) []bool {
	bias := make([]bool, net.NumParams())
	for l, ly := range net.Layers() {
		if d, ok := ly.(*nn.Dense); ok {
			for i := net.Offset(l) + d.Out*d.In; i < net.Offset(l+1); i++ {
				bias[i] = true
			}
		}
	}
	return bias
}

// rule is an update rule written out by hand, with its own state.
type rule func(theta, g []float64, lr float64)

func sgdRule() rule {
	return func(theta, g []float64, lr float64) {
		for i := range theta {
			theta[i] -= lr * g[i]
		}
	}
}

func heavyBallRule(mu float64) rule {
	var v []float64
	return func(theta, g []float64, lr float64) {
		if v == nil {
			v = make([]float64, len(g))
		}
		for i := range theta {
			v[i] = mu*v[i] + g[i]
			theta[i] -= lr * v[i]
		}
	}
}

func adamRule(b1, b2, eps float64) rule {
	var m1, m2 []float64
	step := 0
	return func(theta, g []float64, lr float64) {
		if m1 == nil {
			m1, m2 = make([]float64, len(g)), make([]float64, len(g))
		}
		step++
		for i := range theta {
			m1[i] = b1*m1[i] + (1-b1)*g[i]
			m2[i] = b2*m2[i] + (1-b2)*g[i]*g[i]
			mh := m1[i] / (1 - math.Pow(b1, float64(step)))
			vh := m2[i] / (1 - math.Pow(b2, float64(step)))
			theta[i] -= lr * mh / (math.Sqrt(vh) + eps)
		}
	}
}

// handSAM is the SAM update direction computed by hand on the rows x, y.
// scale returns t_i (1 for SAM, |θ_i| + η or 1 for ASAM).
type handSAM struct {
	rho   float64
	m     int
	scale func(theta []float64, i int) float64
}

// gradient returns the gradient the update uses: g at θ without SAM, else
// the mean over the sub-batches of ∇L(θ + e_k), e_k = ρ t² g_k/‖t g_k‖.
func (h handSAM) gradient(ws *nn.Workspace, theta, x []float64, y []int, d int) []float64 {
	p := len(theta)
	g := make([]float64, p)
	if h.rho == 0 {
		ws.LossGrad(g, theta, x, y)
		return g
	}
	b := len(y)
	m := h.m
	if m == 0 {
		m = b
	}
	mean := make([]float64, p)
	for k := 0; k < b/m; k++ {
		xs, ys := x[k*m*d:(k+1)*m*d], y[k*m:(k+1)*m]
		ws.LossGrad(g, theta, xs, ys)
		norm := 0.0
		for i := range g {
			norm += h.scale(theta, i) * h.scale(theta, i) * g[i] * g[i]
		}
		norm = math.Sqrt(norm)
		pert := slices.Clone(theta)
		for i := range pert {
			if norm > 0 {
				pert[i] += h.rho * h.scale(theta, i) * h.scale(theta, i) * g[i] / norm
			}
		}
		gp := make([]float64, p)
		ws.LossGrad(gp, pert, xs, ys)
		for i := range mean {
			mean[i] += gp[i]
		}
	}
	for i := range mean {
		mean[i] /= float64(b / m)
	}
	return mean
}

// unroll trains θ by hand for steps updates of batches of b, drawing the
// batches as Train documents (a fresh Fisher–Yates permutation per epoch
// from rng, drop_last) and applying rule to the gradient of h. With
// progress non-nil it is called with θ at the end of every epoch (and of
// the last, partial one).
func unroll(net *nn.Network, theta []float64, set data.Set, b, steps int, lr float64, rng *rand.Rand,
	h handSAM, upd rule, progress func([]float64)) []float64 {
	theta = slices.Clone(theta)
	n, d := set.Len(), set.Features
	ws := net.NewWorkspace(n)
	perm := make([]int, n)
	for done := 0; done < steps; {
		for i := range perm {
			perm[i] = i
		}
		rng.Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		for lo := 0; lo+b <= n && done < steps; lo += b {
			x, y := make([]float64, 0, b*d), make([]int, 0, b)
			for _, i := range perm[lo : lo+b] {
				x = append(x, set.Row(i)...)
				y = append(y, set.Y[i])
			}
			upd(theta, h.gradient(ws, theta, x, y, d), lr)
			done++
		}
		if progress != nil {
			progress(theta)
		}
	}
	return theta
}

func ones([]float64, int) float64 { return 1 }

// asamScale returns ASAM's t_i = |θ_i| + η for weights and 1 for biases.
func asamScale(bias []bool, eta float64) func([]float64, int) float64 {
	return func(theta []float64, i int) float64 {
		if bias[i] {
			return 1
		}
		return math.Abs(theta[i]) + eta
	}
}

func assertNear(t *testing.T, name string, got, want []float64) {
	t.Helper()
	for i := range want {
		if !near(got[i], want[i]) {
			t.Errorf("%s: θ[%d] = %.17g, want %.17g (Δ %.3g)", name, i, got[i], want[i], got[i]-want[i])
			return
		}
	}
}

// TestSAMUnrolled: SAM, ASAM and m-sharpness with plain SGD, heavy-ball
// momentum and Adam, over five updates that cross an epoch boundary, equal
// the updates unrolled by hand; each costs two gradients per update.
func TestSAMUnrolled(t *testing.T) {
	net, theta0, set := samProblem(t)
	reg, err := net.WithWeightDecay(0.05, true)
	if err != nil {
		t.Fatal(err)
	}
	bias := denseBiases(net)
	const lr, steps, b = 0.1, 5, 8
	adam := train.Optimizer{Kind: train.KindAdam, Beta1: 0.8, Beta2: 0.99, Eps: 1e-3}
	for _, c := range []struct {
		name  string
		net   *nn.Network
		sam   train.SAM
		opt   train.Optimizer
		rule  func() rule
		scale func([]float64, int) float64
	}{
		{"sam sgd", net, train.SAM{Rho: 0.05}, train.Optimizer{}, sgdRule, ones},
		{"sam heavy ball", net, train.SAM{Rho: 0.1}, train.Optimizer{Momentum: 0.9}, func() rule { return heavyBallRule(0.9) }, ones},
		{"sam adam", net, train.SAM{Rho: 0.05}, adam, func() rule { return adamRule(0.8, 0.99, 1e-3) }, ones},
		{"sam weight decay", reg, train.SAM{Rho: 0.05}, train.Optimizer{}, sgdRule, ones},
		{"asam sgd", net, train.SAM{Rho: 0.5, Adaptive: true}, train.Optimizer{}, sgdRule, asamScale(bias, train.DefaultEta)},
		{"asam eta heavy ball", net, train.SAM{Rho: 1, Adaptive: true, Eta: 0.2}, train.Optimizer{Momentum: 0.5},
			func() rule { return heavyBallRule(0.5) }, asamScale(bias, 0.2)},
		{"m-sharpness sgd", net, train.SAM{Rho: 0.05, M: 2}, train.Optimizer{}, sgdRule, ones},
		{"m-sharpness m = B", net, train.SAM{Rho: 0.05, M: b}, train.Optimizer{}, sgdRule, ones},
		{"m-sharpness asam adam", net, train.SAM{Rho: 0.5, Adaptive: true, M: 4}, adam,
			func() rule { return adamRule(0.8, 0.99, 1e-3) }, asamScale(bias, train.DefaultEta)},
	} {
		theta := slices.Clone(theta0)
		res, err := train.Train(context.Background(), c.net, theta, set, set, train.Config{
			BatchSize: b, LR: lr, Steps: steps, Rng: rand.New(rand.NewPCG(5, 5)), Optimizer: c.opt, SAM: c.sam}, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		h := handSAM{rho: c.sam.Rho, m: c.sam.M, scale: c.scale}
		want := unroll(c.net, theta0, set, b, steps, lr, rand.New(rand.NewPCG(5, 5)), h, c.rule(), nil)
		assertNear(t, c.name, theta, want)
		if res.Steps != steps || res.Gradients != 2*steps || res.Diverged {
			t.Errorf("%s: %d steps, %d gradients, diverged %v; want %d, %d", c.name, res.Steps, res.Gradients, res.Diverged, steps, 2*steps)
		}
	}
}

// TestSAMIsNotPlain: the unrolled references tell the variants apart, so
// TestSAMUnrolled fails for an implementation that drops any ingredient:
// SAM is not SGD, ASAM's T matters, its biases are not scaled, and
// m-sharpness is not whole-batch SAM.
func TestSAMIsNotPlain(t *testing.T) {
	net, theta0, set := samProblem(t)
	bias := denseBiases(net)
	allScaled := func(theta []float64, i int) float64 { return math.Abs(theta[i]) + train.DefaultEta }
	run := func(h handSAM) []float64 {
		return unroll(net, theta0, set, 8, 5, 0.1, rand.New(rand.NewPCG(5, 5)), h, sgdRule(), nil)
	}
	differ := func(a, b []float64) bool {
		for i := range a {
			if math.Abs(a[i]-b[i]) > 1e-6 {
				return true
			}
		}
		return false
	}
	plain, sam := run(handSAM{}), run(handSAM{rho: 0.05, scale: ones})
	asam := run(handSAM{rho: 0.5, scale: asamScale(bias, train.DefaultEta)})
	for name, pair := range map[string][2][]float64{
		"sam vs sgd":                 {plain, sam},
		"asam vs sam":                {run(handSAM{rho: 0.5, scale: ones}), asam},
		"asam biases vs all scaled":  {run(handSAM{rho: 0.5, scale: allScaled}), asam},
		"m-sharpness vs whole batch": {run(handSAM{rho: 0.05, m: 2, scale: ones}), sam},
	} {
		if !differ(pair[0], pair[1]) {
			t.Errorf("%s: the same parameters", name)
		}
	}
}

// TestGradientsCounted: Steps gradients for plain training, 2·Steps with
// SAM, also with m-sharpness, under an epoch budget.
func TestGradientsCounted(t *testing.T) {
	for _, c := range []struct {
		sam  train.SAM
		mult int
	}{{train.SAM{}, 1}, {train.SAM{Rho: 0.05}, 2}, {train.SAM{Rho: 0.05, M: 5}, 2}, {train.SAM{Rho: 1, Adaptive: true}, 2}} {
		net, theta, tr, te := setup(t)
		res, err := train.Train(context.Background(), net, theta, tr, te, train.Config{
			BatchSize: 20, LR: 0.1, Epochs: 2, Rng: rand.New(rand.NewPCG(2, 2)), SAM: c.sam}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Steps != 20 || res.Gradients != c.mult*res.Steps {
			t.Errorf("%+v: %d steps, %d gradients; want 20, %d", c.sam, res.Steps, res.Gradients, c.mult*20)
		}
	}
}

// TestSAMZeroGradient: at a minimum ‖g‖ = 0, so e = 0 and θ stays put
// (no division by zero).
func TestSAMZeroGradient(t *testing.T) {
	net, set := tiny(t) // z = w·x + b, x = 2, target 1: minimal at w = 0.5, b = 0
	for _, sam := range []train.SAM{{Rho: 0.05}, {Rho: 0.5, Adaptive: true}} {
		theta := []float64{0.5, 0}
		if _, err := train.Train(context.Background(), net, theta, set, set, train.Config{
			BatchSize: 1, LR: 0.1, Epochs: 3, Rng: rand.New(rand.NewPCG(1, 1)), SAM: sam}, nil); err != nil {
			t.Fatal(err)
		}
		if theta[0] != 0.5 || theta[1] != 0 {
			t.Errorf("%+v: θ = %v, want [0.5 0]", sam, theta)
		}
	}
}

// TestSAMDeterminism: the same configuration gives bit-identical θ.
func TestSAMDeterminism(t *testing.T) {
	run := func(sam train.SAM, swa train.SWA) []float64 {
		net, theta, tr, te := setup(t)
		if _, err := train.Train(context.Background(), net, theta, tr, te, train.Config{
			BatchSize: 20, LR: 0.1, Epochs: 3, Rng: rand.New(rand.NewPCG(2, 2)),
			Optimizer: train.Optimizer{Momentum: 0.9}, SAM: sam, SWA: swa}, nil); err != nil {
			t.Fatal(err)
		}
		return theta
	}
	sam, swa := train.SAM{Rho: 0.5, Adaptive: true, M: 5}, train.SWA{Start: 2}
	a := run(sam, swa)
	if !slices.Equal(a, run(sam, swa)) {
		t.Error("two identical runs differ")
	}
	if slices.Equal(a, run(train.SAM{}, swa)) || slices.Equal(a, run(sam, train.SWA{})) {
		t.Error("SAM or SWA changed nothing")
	}
}

// TestSWA: θ_swa is the mean of the iterates of plain training with the
// same seed at the ends of epochs start…E, the last partial epoch of a step
// budget included; the curve keeps the iterates' metrics and the final ones
// are θ_swa's.
func TestSWA(t *testing.T) {
	net, theta0, set := samProblem(t)
	for _, c := range []struct {
		name          string
		epochs, steps int
		start, want   int // want: number of averaged iterates
		opt           train.Optimizer
		sam           train.SAM
	}{
		{"epochs", 4, 0, 2, 3, train.Optimizer{}, train.SAM{}},
		{"start 1", 3, 0, 1, 3, train.Optimizer{Momentum: 0.9}, train.SAM{}},
		{"last only", 3, 0, 3, 1, train.Optimizer{}, train.SAM{}},
		{"partial epoch", 0, 7, 2, 2, train.Optimizer{}, train.SAM{}}, // 3 steps per epoch: epochs 1, 2 and 1 step of 3
		{"with sam", 3, 0, 2, 2, train.Optimizer{Kind: train.KindAdam}, train.SAM{Rho: 0.05, M: 4}},
	} {
		cfg := train.Config{BatchSize: 8, LR: 0.1, Epochs: c.epochs, Steps: c.steps, Optimizer: c.opt, SAM: c.sam}
		var iterates [][]float64
		plain := slices.Clone(theta0)
		cfg.Rng = rand.New(rand.NewPCG(6, 6))
		ref, err := train.Train(context.Background(), net, plain, set, set, cfg,
			func(train.Metrics) { iterates = append(iterates, slices.Clone(plain)) })
		if err != nil {
			t.Fatal(err)
		}
		theta := slices.Clone(theta0)
		cfg.Rng, cfg.SWA = rand.New(rand.NewPCG(6, 6)), train.SWA{Start: c.start}
		res, err := train.Train(context.Background(), net, theta, set, set, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		avg := iterates[c.start-1:]
		want := make([]float64, len(theta))
		for _, it := range avg {
			for i, v := range it {
				want[i] += v
			}
		}
		for i := range want {
			want[i] /= float64(len(avg))
		}
		assertNear(t, c.name, theta, want)
		if len(avg) != c.want || res.Averaged != c.want {
			t.Errorf("%s: averaged %d iterates (reference %d), want %d", c.name, res.Averaged, len(avg), c.want)
		}
		if !slices.Equal(res.Curve, ref.Curve) {
			t.Errorf("%s: curve differs from the iterates':\n%+v\n%+v", c.name, res.Curve, ref.Curve)
		}
		loss, acc := net.NewWorkspace(64).Loss(theta, set.X, set.Y)
		last := ref.Final
		if res.Final.TrainLoss != loss || res.Final.TrainAcc != acc || res.Final.Epoch != last.Epoch ||
			res.Final.Step != last.Step || (c.want > 1) == (res.Final.TrainLoss == last.TrainLoss) {
			t.Errorf("%s: final %+v, want the loss %v at θ_swa and the last iterate's epoch %+v", c.name, res.Final, loss, last)
		}
	}
	// Without SWA the hand-unrolled plain run is the reference's.
	want := unroll(net, theta0, set, 8, 6, 0.1, rand.New(rand.NewPCG(6, 6)), handSAM{}, sgdRule(), nil)
	theta := slices.Clone(theta0)
	if _, err := train.Train(context.Background(), net, theta, set, set, train.Config{BatchSize: 8, LR: 0.1, Epochs: 2,
		Rng: rand.New(rand.NewPCG(6, 6))}, nil); err != nil {
		t.Fatal(err)
	}
	assertNear(t, "plain", theta, want)
}

// TestSAMSWAInvalid: bad SAM and SWA settings are configuration errors.
func TestSAMSWAInvalid(t *testing.T) {
	net, theta, tr, te := setup(t) // N = 200
	base := train.Config{BatchSize: 10, LR: 0.1, Epochs: 2, Rng: rand.New(rand.NewPCG(1, 1))}
	for name, mut := range map[string]func(*train.Config){
		"negative rho":         func(c *train.Config) { c.SAM.Rho = -0.1 },
		"nan rho":              func(c *train.Config) { c.SAM.Rho = math.NaN() },
		"infinite rho":         func(c *train.Config) { c.SAM.Rho = math.Inf(1) },
		"negative eta":         func(c *train.Config) { c.SAM = train.SAM{Rho: 1, Adaptive: true, Eta: -1} },
		"nan eta":              func(c *train.Config) { c.SAM = train.SAM{Rho: 1, Adaptive: true, Eta: math.NaN()} },
		"eta without adaptive": func(c *train.Config) { c.SAM = train.SAM{Rho: 1, Eta: 0.1} },
		"adaptive without rho": func(c *train.Config) { c.SAM.Adaptive = true },
		"m without rho":        func(c *train.Config) { c.SAM.M = 5 },
		"negative m":           func(c *train.Config) { c.SAM = train.SAM{Rho: 0.05, M: -1} },
		"m not dividing B":     func(c *train.Config) { c.SAM = train.SAM{Rho: 0.05, M: 3} },
		"m above B":            func(c *train.Config) { c.SAM = train.SAM{Rho: 0.05, M: 20} },
		"m not dividing a scheduled B": func(c *train.Config) {
			// B = 16, then 16·20 clamped to N = 200, which 16 does not divide.
			c.BatchSize, c.SAM = 16, train.SAM{Rho: 0.05, M: 16}
			c.BatchSchedule = train.BatchSchedule{Milestones: []int{1}, Factor: 20}
		},
		"negative swa start":     func(c *train.Config) { c.SWA.Start = -1 },
		"swa start after epochs": func(c *train.Config) { c.SWA.Start = 3 },
		"swa start after steps": func(c *train.Config) {
			c.Epochs, c.Steps, c.SWA.Start = 0, 30, 3 // 20 steps per epoch: 2 epochs
		},
		"swa start after scheduled steps": func(c *train.Config) {
			// B = 30 for 2 epochs (6 steps each), then 90 (2 steps each):
			// 14 steps are 3 epochs.
			c.Epochs, c.Steps, c.BatchSize, c.SWA.Start = 0, 14, 30, 4
			c.BatchSchedule = train.BatchSchedule{Milestones: []int{2}, Factor: 3}
		},
	} {
		c := base
		mut(&c)
		if _, err := train.Train(context.Background(), net, slices.Clone(theta), tr, te, c, nil); !errors.Is(err, train.ErrConfig) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	for name, mut := range map[string]func(*train.Config){
		"m dividing every scheduled B": func(c *train.Config) {
			c.BatchSize, c.SAM = 20, train.SAM{Rho: 0.05, M: 10}
			c.BatchSchedule = train.BatchSchedule{Milestones: []int{1}, Factor: 20} // 20, then 200
		},
		"swa start at the partial epoch": func(c *train.Config) {
			c.Epochs, c.Steps, c.BatchSize, c.SWA.Start = 0, 15, 30, 4
			c.BatchSchedule = train.BatchSchedule{Milestones: []int{2}, Factor: 3}
		},
		"swa start at the last epoch": func(c *train.Config) { c.SWA.Start = 2 },
	} {
		c := base
		mut(&c)
		if _, err := train.Train(context.Background(), net, slices.Clone(theta), tr, te, c, nil); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
