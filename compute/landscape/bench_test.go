package landscape_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/flatsweep/flatsweep/compute/landscape"
	"github.com/flatsweep/flatsweep/compute/nn"
)

// BenchmarkRefPoint measures the cost of one grid point of a 2-D slice of
// the reference model of docs/BENCHMARKS.md's landscape section, the
// keskar-f1 network (MLP 784-512-512-10, ReLU, P = 669,706), over the
// default subsets of 1,000 training and 1,000 test examples (random inputs
// here: the cost does not depend on the data). Each iteration evaluates a
// 5 × 5 grid; the ms/point metric is the time per grid point, with the
// first layer's products shared ("shared", three products per chunk for
// the whole grid and two axpys per point) or the whole network run at every
// point ("direct"), both with the grid points shared out to two goroutines
// (the default), and shared with one goroutine ("shared-1worker").
func BenchmarkRefPoint(b *testing.B) {
	net, err := nn.NewMLP(784, []int{512, 512}, 10, nn.ActReLU)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	train, test := randomSet(rng, 1000, 784, 10), randomSet(rng, 1000, 784, 10)
	theta := params(net, 1)
	d1, _ := landscape.Direction(net, theta, landscape.BiasZero, rng)
	d2, _ := landscape.Direction(net, theta, landscape.BiasZero, rng)
	grid := landscape.Grid(-1, 1, 5)
	for _, c := range []struct {
		name string
		opt  landscape.Options
	}{
		{"shared", landscape.Options{}},
		{"direct", landscape.Options{Direct: true}},
		{"shared-1worker", landscape.Options{Workers: 1}},
		{"direct-1worker", landscape.Options{Direct: true, Workers: 1}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := landscape.Slice(context.Background(), net, theta, d1, d2, grid, grid, train, test, c.opt); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N)/25, "ms/point")
		})
	}
}
