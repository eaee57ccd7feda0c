package data_test

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/flatsweep/flatsweep/compute/data"
)

func TestDeterministicAndDefaults(t *testing.T) {
	cfg := data.SyntheticConfig{N: 300, NTest: 200, LabelNoise: 0.2, Seed: 7}
	tr1, te1, err := data.Synthetic(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr2, te2, _ := data.Synthetic(cfg)
	if !reflect.DeepEqual(tr1, tr2) || !reflect.DeepEqual(te1, te2) {
		t.Fatal("two generations differ")
	}
	if tr1.Features != data.DefaultFeatures || tr1.Classes != data.DefaultClasses ||
		len(tr1.X) != 300*16 || te1.Len() != 200 {
		t.Fatalf("shapes: features %d classes %d len(X) %d", tr1.Features, tr1.Classes, len(tr1.X))
	}
	other, _, _ := data.Synthetic(data.SyntheticConfig{N: 300, NTest: 200, LabelNoise: 0.2, Seed: 8})
	if slices.Equal(other.X, tr1.X) {
		t.Error("different seeds give the same data")
	}
}

// TestNested: smaller sets are prefixes of larger ones (same seed).
func TestNested(t *testing.T) {
	small, smallTest, _ := data.Synthetic(data.SyntheticConfig{N: 50, NTest: 20, LabelNoise: 0.3, Seed: 1})
	big, bigTest, _ := data.Synthetic(data.SyntheticConfig{N: 120, NTest: 70, LabelNoise: 0.3, Seed: 1})
	if !slices.Equal(small.X, big.X[:len(small.X)]) || !slices.Equal(small.Y, big.Y[:50]) ||
		!slices.Equal(smallTest.Y, bigTest.Y[:20]) {
		t.Error("smaller set is not a prefix of the larger one")
	}
}

// TestLabelNoise: training labels differ from the clean teacher labels at rate
// noise·(k−1)/k (binomial, 5σ tolerance); classes are roughly balanced.
func TestLabelNoise(t *testing.T) {
	const n, noise = 20000, 0.3
	clean, _, _ := data.Synthetic(data.SyntheticConfig{N: n, Seed: 3})
	noisy, _, _ := data.Synthetic(data.SyntheticConfig{N: n, LabelNoise: noise, Seed: 3})
	if !slices.Equal(clean.X, noisy.X) {
		t.Fatal("label noise changed the inputs")
	}
	changed := 0
	for i := range clean.Y {
		if clean.Y[i] != noisy.Y[i] {
			changed++
		}
	}
	p := noise * 3 / 4
	if got := float64(changed) / n; math.Abs(got-p) > 5*math.Sqrt(p*(1-p)/n) {
		t.Errorf("changed fraction %v, want %v", got, p)
	}
	for c, k := range clean.ClassCounts() {
		if frac := float64(k) / n; frac < 0.1 || frac > 0.4 {
			t.Errorf("class %d has fraction %v", c, frac)
		}
	}
}

func TestSubset(t *testing.T) {
	s, _, _ := data.Synthetic(data.SyntheticConfig{N: 10, Features: 3, Classes: 2, Seed: 1})
	sub := s.Subset([]int{4, 1})
	if !slices.Equal(sub.Row(0), s.Row(4)) || !slices.Equal(sub.Row(1), s.Row(1)) ||
		sub.Y[0] != s.Y[4] || sub.Len() != 2 {
		t.Error("wrong subset")
	}
}

func TestInvalid(t *testing.T) {
	for _, c := range []data.SyntheticConfig{
		{N: -1}, {Classes: 1}, {Features: -2}, {LabelNoise: 1.5}, {LabelNoise: math.NaN()},
	} {
		if _, _, err := data.Synthetic(c); !errors.Is(err, data.ErrConfig) {
			t.Errorf("%+v: err = %v", c, err)
		}
	}
}
