package spec_test

import (
	"math"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// TestHistogram: the bins of a spectral density, with reference counts that
// sum to P.
func TestHistogram(t *testing.T) {
	d := spec.SpectralDensity{Params: 4,
		Nodes:   [][]float64{{0, 1, 3}, {2, 3}},
		Weights: [][]float64{{0.5, 0.25, 0.25}, {0.5, 0.5}}}
	got := d.Histogram(3)
	// Each node j of run r counts P·τ²_{r,j}/runs = 2·τ²: bin [0, 1) holds
	// node 0 of run 0, [1, 2) node 1, and the closed last bin [2, 3] the rest.
	want := []spec.Bin{{Lo: 0, Hi: 1, Count: 1}, {Lo: 1, Hi: 2, Count: 0.5}, {Lo: 2, Hi: 3, Count: 2.5}}
	if len(got) != len(want) {
		t.Fatalf("Histogram(3) = %+v, want %+v", got, want)
	}
	for i := range want {
		if math.Abs(got[i].Lo-want[i].Lo) > 1e-15 || math.Abs(got[i].Hi-want[i].Hi) > 1e-15 || math.Abs(got[i].Count-want[i].Count) > 1e-15 {
			t.Errorf("bin %d = %+v, want %+v", i, got[i], want[i])
		}
	}

	// Many runs of random-looking nodes: the counts sum to P for every bin
	// count.
	var big spec.SpectralDensity
	big.Params = 51
	for r := range 5 {
		var nodes, weights []float64
		for j := range 12 {
			nodes = append(nodes, math.Sin(float64(7*r+3*j))*float64(j+1))
			weights = append(weights, float64(j+1)/78) // 1 + … + 12 = 78
		}
		big.Nodes, big.Weights = append(big.Nodes, nodes), append(big.Weights, weights)
	}
	for _, n := range []int{1, 2, 7, 40} {
		bins := big.Histogram(n)
		var sum float64
		for _, b := range bins {
			sum += b.Count
		}
		if len(bins) != n || math.Abs(sum-51) > 1e-9 {
			t.Errorf("Histogram(%d): %d bins, counts sum to %v, want 51", n, len(bins), sum)
		}
		if bins[0].Lo > bins[len(bins)-1].Hi {
			t.Errorf("Histogram(%d): range [%v, %v]", n, bins[0].Lo, bins[len(bins)-1].Hi)
		}
	}

	// A single eigenvalue: one bin holding P.
	one := spec.SpectralDensity{Params: 3, Nodes: [][]float64{{2, 2}}, Weights: [][]float64{{0.5, 0.5}}}
	if bins := one.Histogram(10); len(bins) != 1 || bins[0] != (spec.Bin{Lo: 2, Hi: 2, Count: 3}) {
		t.Errorf("degenerate: %+v", bins)
	}
	if bins := (spec.SpectralDensity{Params: 3}).Histogram(4); bins != nil {
		t.Errorf("no nodes: %+v", bins)
	}
	if bins := d.Histogram(0); bins != nil {
		t.Errorf("zero bins: %+v", bins)
	}
}
