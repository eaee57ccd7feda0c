package landscape_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/flatsweep/flatsweep/compute/data"
	"github.com/flatsweep/flatsweep/compute/landscape"
	"github.com/flatsweep/flatsweep/compute/nn"
)

// relTol is the agreement required between the landscape (whose first layer
// is formed from shared products) and direct evaluations of the loss at the
// same points: the two differ only in the rounding of the first layer.
const relTol = 1e-12

// randomSet returns n examples of the given width with random labels.
func randomSet(rng *rand.Rand, n, features, classes int) data.Set {
	s := data.Set{X: make([]float64, n*features), Y: make([]int, n), Features: features, Classes: classes}
	for i := range s.X {
		s.X[i] = rng.NormFloat64()
	}
	for i := range s.Y {
		s.Y[i] = rng.IntN(classes)
	}
	return s
}

// params returns θ for net: its initialization plus noise, so every bias is
// nonzero.
func params(net *nn.Network, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	theta := make([]float64, net.NumParams())
	net.Init(theta, rng)
	for i := range theta {
		theta[i] += 0.2 * rng.NormFloat64()
	}
	return theta
}

type netCase struct {
	name string
	net  func() (*nn.Network, error)
}

func nets() []netCase {
	return []netCase{
		{"mlp", func() (*nn.Network, error) { return nn.NewMLP(6, []int{9, 7}, 3, nn.ActReLU) }},
		{"resmlp-tanh", func() (*nn.Network, error) { return nn.NewResMLP(6, 8, 2, 3, nn.ActTanh) }},
		{"cnn", func() (*nn.Network, error) { return nn.NewCNN(1, 6, 6, []int{3}, []int{5}, 3, nn.ActReLU) }},
		{"relu-first", func() (*nn.Network, error) {
			return nn.New(nn.SoftmaxCrossEntropy{}, &nn.ReLU{Size: 6}, &nn.Dense{In: 6, Out: 4, Gain: 1}, &nn.Tanh{Size: 4}, &nn.Dense{In: 4, Out: 3, Gain: 1})
		}},
	}
}

// rel is |x − y| / max(|y|, 1e-300).
func rel(x, y float64) float64 { return math.Abs(x-y) / math.Max(math.Abs(y), 1e-300) }

// TestSliceMatchesDirect: every value of a 2-D and a 1-D slice equals
// Workspace.Loss at θ + a·d₁ + b·d₂ built explicitly, to relTol (the
// accuracies exactly), for an MLP, a residual MLP, a CNN (whose first
// convolution is shared) and a network whose first layer has no parameters
// (not shared); with Options.Direct and with one or two workers the values
// are bit-identical to the defaults' where no rounding differs.
func TestSliceMatchesDirect(t *testing.T) {
	ctx := context.Background()
	for _, c := range nets() {
		t.Run(c.name, func(t *testing.T) {
			net, err := c.net()
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(7, 7))
			train, test := randomSet(rng, 37, net.InSize(), 3), randomSet(rng, 21, net.InSize(), 3)
			theta := params(net, 3)
			d1, err := landscape.Direction(net, theta, landscape.BiasNormalize, rng)
			if err != nil {
				t.Fatal(err)
			}
			d2, err := landscape.Direction(net, theta, landscape.BiasZero, rng)
			if err != nil {
				t.Fatal(err)
			}
			as, bs := landscape.Grid(-1, 1, 5), landscape.Grid(-0.5, 0.5, 3)
			opt := landscape.Options{Rows: 8, Workers: 2} // several chunks, the last partial
			l, err := landscape.Slice(ctx, net, theta, d1, d2, as, bs, train, test, opt)
			if err != nil {
				t.Fatal(err)
			}
			if l.Kind != "2d" || len(l.A) != 5 || len(l.B) != 3 || len(l.TrainLoss) != 15 || l.Evaluations != 15 || l.Examples != 37 || l.TestExamples != 21 {
				t.Fatalf("shape: %+v", l)
			}
			ws := net.NewWorkspace(8)
			at := make([]float64, len(theta))
			worst := 0.0
			for j, b := range bs {
				for i, a := range as {
					for k := range at {
						at[k] = theta[k] + a*d1[k] + b*d2[k]
					}
					p := j*len(as) + i
					trL, trA := ws.Loss(at, train.X, train.Y)
					teL, teA := ws.Loss(at, test.X, test.Y)
					worst = max(worst, rel(l.TrainLoss[p], trL), rel(l.TestLoss[p], teL))
					if rel(l.TrainLoss[p], trL) > relTol || rel(l.TestLoss[p], teL) > relTol || l.TrainAcc[p] != trA || l.TestAcc[p] != teA {
						t.Errorf("(%g, %g): landscape %v %v / %v %v, direct %v %v / %v %v", a, b,
							l.TrainLoss[p], l.TrainAcc[p], l.TestLoss[p], l.TestAcc[p], trL, trA, teL, teA)
					}
				}
			}
			t.Logf("largest relative difference from the direct loss: %.2g", worst)
			// 1-D: the b = 0 row of the plane (to rounding), and Direct
			// agrees.
			one, err := landscape.Slice(ctx, net, theta, d1, nil, as, nil, train, test, opt)
			if err != nil {
				t.Fatal(err)
			}
			direct, err := landscape.Slice(ctx, net, theta, d1, nil, as, nil, train, test, landscape.Options{Rows: 8, Direct: true, Workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			if one.Kind != "1d" || len(one.B) != 0 || len(one.TrainLoss) != 5 {
				t.Fatalf("1-D shape %+v", one)
			}
			for i := range as {
				if rel(one.TrainLoss[i], l.TrainLoss[len(as)+i]) > relTol || rel(one.TestLoss[i], direct.TestLoss[i]) > relTol {
					t.Errorf("1-D a = %g: %v, 2-D row %v, direct %v", as[i], one.TrainLoss[i], l.TrainLoss[len(as)+i], direct.TestLoss[i])
				}
			}
			// One worker gives the same bits as two.
			serial, err := landscape.Slice(ctx, net, theta, d1, d2, as, bs, train, test, landscape.Options{Rows: 8, Workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			for p := range l.TrainLoss {
				if serial.TrainLoss[p] != l.TrainLoss[p] || serial.TestLoss[p] != l.TestLoss[p] {
					t.Errorf("point %d: one worker %v, two %v", p, serial.TrainLoss[p], l.TrainLoss[p])
				}
			}
		})
	}
}

// TestLineEnds: the line at α = 0 and α = 1 gives the two models' losses
// and accuracies bit for bit (same chunks: the shared products of the first
// layer are f(x; θ₀) and f(x; θ₁) themselves), and interior points match
// direct evaluations at (1 − α)θ₀ + αθ₁.
func TestLineEnds(t *testing.T) {
	ctx := context.Background()
	for _, c := range nets() {
		t.Run(c.name, func(t *testing.T) {
			net, err := c.net()
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(9, 9))
			train, test := randomSet(rng, 30, net.InSize(), 3), randomSet(rng, 19, net.InSize(), 3)
			a, b := params(net, 1), params(net, 2)
			alphas := landscape.Grid(-1, 2, 7) // -1, -0.5, 0, 0.5, 1, 1.5, 2
			l, err := landscape.Line(ctx, net, a, b, alphas, train, test, landscape.Options{Rows: 8})
			if err != nil {
				t.Fatal(err)
			}
			if l.Kind != "line" || len(l.TrainLoss) != 7 || alphas[2] != 0 || alphas[4] != 1 {
				t.Fatalf("line %+v, alphas %v", l, alphas)
			}
			ws := net.NewWorkspace(8)
			for i, th := range map[int][]float64{2: a, 4: b} {
				trL, trA := ws.Loss(th, train.X, train.Y)
				teL, teA := ws.Loss(th, test.X, test.Y)
				if l.TrainLoss[i] != trL || l.TrainAcc[i] != trA || l.TestLoss[i] != teL || l.TestAcc[i] != teA {
					t.Errorf("α = %g: line %v %v %v %v, model %v %v %v %v", alphas[i], l.TrainLoss[i], l.TrainAcc[i], l.TestLoss[i], l.TestAcc[i], trL, trA, teL, teA)
				}
			}
			at := make([]float64, len(a))
			for i, al := range alphas {
				for k := range at {
					at[k] = (1-al)*a[k] + al*b[k]
				}
				trL, _ := ws.Loss(at, train.X, train.Y)
				if rel(l.TrainLoss[i], trL) > relTol {
					t.Errorf("α = %g: line %v, direct %v", al, l.TrainLoss[i], trL)
				}
			}
		})
	}
}

// TestFilterNormalization: on a network with known per-row norms of θ,
// every row of a Dense layer's direction and every output channel of a
// Conv2D layer's has the norm of θ's; biases are zero in BiasZero mode and
// have the norm of θ's bias vector in BiasNormalize mode; a zero filter of θ
// gives a zero filter of d; the direction's draws do not depend on the bias
// mode; and the filters cover θ exactly once.
func TestFilterNormalization(t *testing.T) {
	res, err := nn.NewResidual(&nn.Dense{In: 4, Out: 4, Gain: 1}, &nn.ReLU{Size: 4}, &nn.Dense{In: 4, Out: 4, Gain: 1})
	if err != nil {
		t.Fatal(err)
	}
	conv := &nn.Conv2D{C: 2, H: 4, W: 4, F: 3, K: 3, Pad: 1, Gain: 1}
	net, err := nn.New(nn.SoftmaxCrossEntropy{},
		conv, &nn.ReLU{Size: 48}, &nn.MaxPool2D{C: 3, H: 4, W: 4, Size: 2},
		&nn.Dense{In: 12, Out: 4, Gain: 1}, res, &nn.Dense{In: 4, Out: 3, Gain: 1})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := landscape.Filters(net)
	if err != nil {
		t.Fatal(err)
	}
	// 3 channels + bias, 4 rows + bias, 4 + 1 and 4 + 1 in the block, 3 + 1.
	if len(fs) != 4+5+5+5+4 {
		t.Fatalf("%d filters", len(fs))
	}
	covered := make([]int, net.NumParams())
	for _, f := range fs {
		for i := f.Lo; i < f.Hi; i++ {
			covered[i]++
		}
	}
	for i, c := range covered {
		if c != 1 {
			t.Fatalf("parameter %d in %d filters", i, c)
		}
	}
	// θ: filter number k (in order) has all entries equal to k+1 over
	// √len, so its norm is k+1; filter 5 (the second row of the first
	// Dense layer) is zero.
	theta := make([]float64, net.NumParams())
	want := make([]float64, len(fs))
	for k, f := range fs {
		want[k] = float64(k + 1)
		if k == 5 {
			want[k] = 0
		}
		v := want[k] / math.Sqrt(float64(f.Hi-f.Lo))
		for i := f.Lo; i < f.Hi; i++ {
			theta[i] = v
		}
	}
	if fs[0].Hi-fs[0].Lo != 2*3*3 || fs[3].Hi-fs[3].Lo != 3 || !fs[3].Bias || fs[5].Hi-fs[5].Lo != 12 {
		t.Fatalf("conv filters %+v, first dense row %+v", fs[:4], fs[5])
	}
	dz, err := landscape.Direction(net, theta, landscape.BiasZero, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	dn, err := landscape.Direction(net, theta, landscape.BiasNormalize, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	norm := func(x []float64) float64 {
		var s float64
		for _, v := range x {
			s += v * v
		}
		return math.Sqrt(s)
	}
	for k, f := range fs {
		nz, nn := norm(dz[f.Lo:f.Hi]), norm(dn[f.Lo:f.Hi])
		switch {
		case f.Bias:
			if nz != 0 {
				t.Errorf("filter %d (bias): norm %v in zero mode", k, nz)
			}
			if math.Abs(nn-want[k]) > 1e-12*want[k] {
				t.Errorf("filter %d (bias): norm %v in normalize mode, want %v", k, nn, want[k])
			}
		default:
			if math.Abs(nz-want[k]) > 1e-12*math.Max(want[k], 1) || nz != nn {
				t.Errorf("filter %d: norms %v and %v, want %v", k, nz, nn, want[k])
			}
		}
	}
	// The weights of the direction are independent of the bias mode, and
	// not a copy of θ.
	for i := range dz {
		if dz[i] != dn[i] && !isBias(fs, i) {
			t.Fatalf("entry %d differs between the modes", i)
		}
	}
	if dz[0] == theta[0] && dz[1] == theta[1] {
		t.Error("the direction is θ")
	}
	if _, err := landscape.ParseBias("both"); err == nil {
		t.Error(`bias mode "both" accepted`)
	}
}

func isBias(fs []landscape.Filter, i int) bool {
	for _, f := range fs {
		if i >= f.Lo && i < f.Hi {
			return f.Bias
		}
	}
	return false
}

// TestCancel: a cancelled context stops the evaluation with an error
// wrapping context.Canceled.
func TestCancel(t *testing.T) {
	net, err := nn.NewMLP(6, []int{9}, 3, nn.ActReLU)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	set := randomSet(rng, 10, 6, 3)
	theta := params(net, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = landscape.Line(ctx, net, theta, theta, landscape.Grid(0, 1, 3), set, set, landscape.Options{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
}

// TestGrid: the ends are exact, 0 is exact on a symmetric odd grid.
func TestGrid(t *testing.T) {
	g := landscape.Grid(-1, 1, 51)
	if len(g) != 51 || g[0] != -1 || g[50] != 1 || g[25] != 0 {
		t.Errorf("grid %v", g)
	}
	if g := landscape.Grid(-1, 2, 31); g[10] != 0 || g[20] != 1 || g[30] != 2 {
		t.Errorf("line grid %v", g)
	}
}

// TestFiltersBatchNorm: a BatchNorm's γ and β are two bias filters, so the
// default BiasZero leaves them unperturbed.
func TestFiltersBatchNorm(t *testing.T) {
	net, err := nn.NewMLPWith(3, []int{4}, 2, nn.ActReLU, nn.Options{BatchNorm: true, Dropout: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := landscape.Filters(net)
	if err != nil {
		t.Fatal(err)
	}
	// Dense 4×3: 4 rows + bias [12, 16); BatchNorm: γ [16, 20), β [20, 24);
	// Dense 2×4: 2 rows + bias.
	want := []landscape.Filter{{Lo: 0, Hi: 3}, {Lo: 3, Hi: 6}, {Lo: 6, Hi: 9}, {Lo: 9, Hi: 12}, {Lo: 12, Hi: 16, Bias: true},
		{Lo: 16, Hi: 20, Bias: true}, {Lo: 20, Hi: 24, Bias: true},
		{Lo: 24, Hi: 28}, {Lo: 28, Hi: 32}, {Lo: 32, Hi: 34, Bias: true}}
	if !slices.Equal(fs, want) {
		t.Errorf("filters %v, want %v", fs, want)
	}
	theta := make([]float64, net.NumParams())
	net.Init(theta, rand.New(rand.NewPCG(1, 2)))
	d := make([]float64, len(theta))
	for i := range d {
		d[i] = 1
	}
	if err := landscape.Normalize(d, net, theta, landscape.BiasZero); err != nil {
		t.Fatal(err)
	}
	for i := 12; i < 24; i++ {
		if d[i] != 0 {
			t.Fatalf("direction entry %d (bias or batch norm) = %v, want 0", i, d[i])
		}
	}
}
