package flatness_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/flatsweep/flatsweep/compute/curvature"
	"github.com/flatsweep/flatsweep/compute/flatness"
)

// TestInvalid: settings and shapes are validated with errors naming the
// parameter; cancelled contexts are reported.
func TestInvalid(t *testing.T) {
	net, theta, o := tinyNet(t, 3, []int{4}, 3, 10, 1)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 1))
	x, y := o.Data()
	good := flatness.SharpnessSettings{Rho: 0.1, Norm: 2, Iterations: 3, Samples: 4}
	for name, f := range map[string]func() error{
		"oracle x":     func() error { _, err := flatness.NewNetOracle(net, x[:5], y, 4); return err },
		"oracle label": func() error { _, err := flatness.NewNetOracle(net, x, append([]int{7}, y[1:]...), 4); return err },
		"oracle empty": func() error { _, err := flatness.NewNetOracle(net, nil, nil, 4); return err },
		"rho": func() error {
			s := good
			s.Rho = 0
			_, err := flatness.AdaptiveSharpness(ctx, o, theta, rng, s)
			return err
		},
		"norm": func() error {
			s := good
			s.Norm = 3
			_, err := flatness.AdaptiveSharpness(ctx, o, theta, rng, s)
			return err
		},
		"iterations": func() error {
			s := good
			s.Iterations = 0
			_, err := flatness.AdaptiveSharpness(ctx, o, theta, rng, s)
			return err
		},
		"samples": func() error {
			s := good
			s.Samples = 1
			_, err := flatness.AverageSharpness(ctx, o, theta, rng, s)
			return err
		},
		"eta": func() error {
			s := good
			s.Eta = math.NaN()
			_, err := flatness.AverageSharpness(ctx, o, theta, rng, s)
			return err
		},
		"theta": func() error { _, err := flatness.AdaptiveSharpness(ctx, o, theta[1:], rng, good); return err },
		"layer": func() error {
			_, err := flatness.RelativeFlatness(ctx, o, net, theta, 1, rng, flatness.RelativeSettings{Exact: true})
			return err
		},
		"layer range": func() error {
			_, err := flatness.RelativeFlatness(ctx, o, net, theta, 9, rng, flatness.RelativeSettings{Exact: true})
			return err
		},
		"fisher-rao rng": func() error {
			_, err := flatness.FisherRao(ctx, net, theta, x, y, nil, flatness.FisherRaoSettings{ModelLabels: true})
			return err
		},
	} {
		if err := f(); !errors.Is(err, flatness.ErrInvalid) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := flatness.RelativeFlatness(ctx, o, net, theta, 0, rng, flatness.RelativeSettings{}); !errors.Is(err, curvature.ErrInvalid) {
		t.Errorf("relative flatness zero budget: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	for name, f := range map[string]func() error{
		"adaptive": func() error { _, err := flatness.AdaptiveSharpness(cctx, o, theta, rng, good); return err },
		"average":  func() error { _, err := flatness.AverageSharpness(cctx, o, theta, rng, good); return err },
		"relative": func() error {
			_, err := flatness.RelativeFlatness(cctx, o, net, theta, 0, rng, flatness.RelativeSettings{Exact: true})
			return err
		},
		"fisher-rao": func() error {
			_, err := flatness.FisherRao(cctx, net, theta, x, y, nil, flatness.FisherRaoSettings{})
			return err
		},
		"pac-bayes": func() error {
			_, err := flatness.PACBayesFlatness(cctx, o, theta, rng, flatness.DefaultPACBayesSettings())
			return err
		},
		"evidence": func() error {
			_, err := flatness.Evidence(cctx, 1, theta, flatness.HessianOperator(o, theta), rng,
				flatness.EvidenceSettings{Lambda: 1, Examples: 10, SLQ: curvature.SLQSettings{Runs: 1, Steps: 3}})
			return err
		},
	} {
		if err := f(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s cancelled: err = %v", name, err)
		}
	}
	// Model-label Fisher–Rao runs and is deterministic in the seed.
	a, err := flatness.FisherRao(ctx, net, theta, x, y, rand.New(rand.NewPCG(2, 2)), flatness.FisherRaoSettings{ModelLabels: true})
	b, _ := flatness.FisherRao(ctx, net, theta, x, y, rand.New(rand.NewPCG(2, 2)), flatness.FisherRaoSettings{ModelLabels: true})
	if err != nil || a != b || !(a.Norm2 > 0) {
		t.Errorf("model Fisher–Rao %+v vs %+v, %v", a, b, err)
	}
}
