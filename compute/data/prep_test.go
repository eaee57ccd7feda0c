package data

import (
	"errors"
	"math"
	"slices"
	"testing"
)

// indexSet returns n examples whose single feature and label encode the index.
func indexSet(n int) Set {
	s := Set{X: make([]float64, n), Y: make([]int, n), Features: 1, Classes: n}
	for i := range n {
		s.X[i], s.Y[i] = float64(i), i
	}
	return s
}

func TestSampleDeterministicNested(t *testing.T) {
	s := indexSet(100)
	a, err := s.Sample(30, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Sample(30, 7)
	if !slices.Equal(a.Y, b.Y) || !slices.Equal(a.X, b.X) {
		t.Fatal("same seed, different samples")
	}
	c, _ := s.Sample(30, 8)
	if slices.Equal(a.Y, c.Y) {
		t.Error("different seeds, same sample")
	}
	small, _ := s.Sample(10, 7)
	if !slices.Equal(small.Y, a.Y[:10]) {
		t.Errorf("not nested: %v vs %v", small.Y, a.Y[:10])
	}
	seen := map[int]bool{}
	for i, y := range a.Y {
		if seen[y] || a.X[i] != float64(y) {
			t.Fatalf("duplicate or misaligned example %d", y)
		}
		seen[y] = true
	}
	all, _ := s.Sample(100, 3)
	sorted := slices.Clone(all.Y)
	slices.Sort(sorted)
	if !slices.Equal(sorted, s.Y) {
		t.Error("full sample is not a permutation")
	}
	for _, n := range []int{-1, 101} {
		if _, err := s.Sample(n, 1); !errors.Is(err, ErrConfig) {
			t.Errorf("Sample(%d): err = %v", n, err)
		}
	}
}

func TestSampleUniform(t *testing.T) {
	// Each of 10 examples should be picked about 3/10 of the time.
	s := indexSet(10)
	counts := make([]int, 10)
	const trials = 4000
	for seed := range int64(trials) {
		a, _ := s.Sample(3, seed)
		for _, y := range a.Y {
			counts[y]++
		}
	}
	for i, c := range counts {
		// Binomial(4000, 0.3): mean 1200, sd ≈ 29; allow 5 sd.
		if math.Abs(float64(c)-1200) > 145 {
			t.Errorf("example %d drawn %d times, want ≈ 1200", i, c)
		}
	}
}

func TestSplit(t *testing.T) {
	s := indexSet(50)
	train, test, err := s.Split(40, 11)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 40 || test.Len() != 10 {
		t.Fatalf("%d/%d", train.Len(), test.Len())
	}
	all := append(slices.Clone(train.Y), test.Y...)
	slices.Sort(all)
	if !slices.Equal(all, s.Y) {
		t.Error("train and test do not partition the set")
	}
	train2, test2, _ := s.Split(40, 11)
	if !slices.Equal(train.Y, train2.Y) || !slices.Equal(test.Y, test2.Y) {
		t.Error("not deterministic")
	}
	if slices.Equal(train.Y, s.Y[:40]) {
		t.Error("not shuffled")
	}
	// Split and Sample use independent streams.
	smp, _ := s.Sample(40, 11)
	if slices.Equal(smp.Y, train.Y) {
		t.Error("split and sample share a stream")
	}
	if _, _, err := s.Split(51, 1); !errors.Is(err, ErrConfig) {
		t.Errorf("oversized split: err = %v", err)
	}
}

func TestStandardizer(t *testing.T) {
	// Feature 0 varies, feature 1 is constant 0.1 (whose float mean is
	// inexact), feature 2 is constant 0.
	train := Set{X: []float64{
		1, 0.1, 0,
		2, 0.1, 0,
		3, 0.1, 0,
		6, 0.1, 0,
	}, Y: []int{0, 1, 0, 1}, Features: 3, Classes: 2}
	st, err := FitStandardizer(train)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mean[0] != 3 || math.Abs(st.Scale[0]-math.Sqrt(3.5)) > 1e-15 {
		t.Errorf("feature 0: mean %v scale %v, want 3 and √3.5", st.Mean[0], st.Scale[0])
	}
	if st.Mean[1] != 0.1 || st.Scale[1] != 1 || st.Mean[2] != 0 || st.Scale[2] != 1 {
		t.Errorf("constant features: mean %v scale %v", st.Mean[1:], st.Scale[1:])
	}
	ztrain, err := st.Apply(train)
	if err != nil {
		t.Fatal(err)
	}
	var m, v float64
	for i := range 4 {
		r := ztrain.Row(i)
		if r[1] != 0 || r[2] != 0 {
			t.Errorf("constant features map to %v, %v; want 0", r[1], r[2])
		}
		m += r[0] / 4
		v += r[0] * r[0] / 4
	}
	if math.Abs(m) > 1e-15 || math.Abs(v-1) > 1e-15 {
		t.Errorf("standardized feature 0: mean %v, variance %v", m, v)
	}
	if train.X[0] != 1 {
		t.Error("Apply modified its input")
	}
	// The test set uses the training statistics, constant features included.
	test := Set{X: []float64{3, 0.6, 2}, Y: []int{0}, Features: 3, Classes: 2}
	ztest, err := st.Apply(test)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{0, 0.5, 2}; math.Abs(ztest.X[1]-0.5) > 1e-15 || ztest.X[0] != want[0] || ztest.X[2] != want[2] {
		t.Errorf("test row %v, want %v", ztest.X, want)
	}
	for _, x := range ztest.X {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			t.Errorf("non-finite output %v", ztest.X)
		}
	}

	if _, err := FitStandardizer(Set{Features: 3}); !errors.Is(err, ErrConfig) {
		t.Errorf("empty set: err = %v", err)
	}
	if _, err := st.Apply(indexSet(3)); !errors.Is(err, ErrConfig) {
		t.Errorf("feature mismatch: err = %v", err)
	}
}

func TestStandardizerTinyDeviation(t *testing.T) {
	// Values differing by a subnormal: the variance underflows to 0, so the
	// scale must fall back to 1 instead of dividing by zero.
	s := Set{X: []float64{0, 5e-324}, Y: []int{0, 0}, Features: 1, Classes: 1}
	st, err := FitStandardizer(s)
	if err != nil {
		t.Fatal(err)
	}
	z, _ := st.Apply(s)
	for _, x := range z.X {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			t.Fatalf("non-finite %v (scale %v)", z.X, st.Scale)
		}
	}
}
