package data

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// PCG stream constants of the preparation helpers, distinct from each other
// and from the synthetic generator's, so that a subsample and a split drawn
// with the same seed are independent.
const (
	streamSample uint64 = 0x73616d706c650001 + iota
	streamSplit
)

// permPrefix returns the first k entries of a uniformly random permutation of
// 0…n−1 drawn by a forward Fisher–Yates shuffle from a PCG generator seeded
// with (seed, stream). Only k draws are made, and the first k′ ≤ k entries do
// not depend on k.
func permPrefix(n, k int, seed int64, stream uint64) []int {
	rng := rand.New(rand.NewPCG(uint64(seed), stream))
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	for i := 0; i < k && i < n-1; i++ {
		j := i + rng.IntN(n-i)
		idx[i], idx[j] = idx[j], idx[i]
	}
	return idx[:k]
}

// Sample returns n examples of s drawn uniformly without replacement by a PCG
// generator seeded with seed, in the order drawn. The draw is deterministic
// and nested: for the same seed, the sample of n′ ≤ n examples is the first n′
// examples of the sample of n, which keeps training-set-size sweeps nested.
func (s Set) Sample(n int, seed int64) (Set, error) {
	if n < 0 || n > s.Len() {
		return Set{}, fmt.Errorf("%w: cannot sample %d of %d examples", ErrConfig, n, s.Len())
	}
	return s.Subset(permPrefix(s.Len(), n, seed, streamSample)), nil
}

// Split shuffles s with a PCG generator seeded with seed and returns the first
// nTrain examples of the shuffled order as train and the remaining
// s.Len()−nTrain as test (for example 8000/2000 for a 10000-example file when
// no separate test file exists). The split is deterministic, the two parts are
// disjoint, and the training parts of nested sizes are nested.
func (s Set) Split(nTrain int, seed int64) (train, test Set, err error) {
	if nTrain < 0 || nTrain > s.Len() {
		return Set{}, Set{}, fmt.Errorf("%w: cannot take %d training examples of %d", ErrConfig, nTrain, s.Len())
	}
	perm := permPrefix(s.Len(), s.Len(), seed, streamSplit)
	return s.Subset(perm[:nTrain]), s.Subset(perm[nTrain:]), nil
}

// Standardizer maps each feature x_j to (x_j − Mean_j) / Scale_j. Scale_j is
// the feature's standard deviation (population, divisor n) on the set it was
// fitted on, or 1 for a feature that is constant there, so constant features
// map to 0 instead of NaN.
type Standardizer struct {
	Mean, Scale []float64
}

// FitStandardizer computes per-feature means and standard deviations of s
// (typically the training set) by two passes in a fixed order, so the result
// is deterministic.
func FitStandardizer(s Set) (Standardizer, error) {
	n := s.Len()
	if n == 0 || s.Features < 1 || len(s.X) != n*s.Features {
		return Standardizer{}, fmt.Errorf("%w: cannot fit a standardizer on %d examples of %d features (%d inputs)",
			ErrConfig, n, s.Features, len(s.X))
	}
	st := Standardizer{Mean: make([]float64, s.Features), Scale: make([]float64, s.Features)}
	for i := range n {
		for j, v := range s.Row(i) {
			st.Mean[j] += v
		}
	}
	for j := range st.Mean {
		st.Mean[j] /= float64(n)
	}
	for i := range n {
		for j, v := range s.Row(i) {
			d := v - st.Mean[j]
			st.Scale[j] += d * d
		}
	}
	for j, ss := range st.Scale {
		sd := math.Sqrt(ss / float64(n))
		if constantColumn(s, j) {
			st.Mean[j], sd = s.X[j], 1 // exact: the feature maps to 0
		} else if !(sd > 0) || math.IsInf(sd, 0) {
			sd = 1
		}
		st.Scale[j] = sd
	}
	return st, nil
}

// constantColumn reports whether feature j takes a single value on s; such a
// feature gets its exact value as mean and scale 1, even when rounding makes
// the computed mean inexact and the deviation tiny but non-zero.
func constantColumn(s Set, j int) bool {
	first := s.X[j]
	for i := 1; i < s.Len(); i++ {
		if s.X[i*s.Features+j] != first {
			return false
		}
	}
	return true
}

// Apply returns a copy of s with every feature standardized. s must have as
// many features as the set the standardizer was fitted on.
func (st Standardizer) Apply(s Set) (Set, error) {
	if s.Features != len(st.Mean) || len(st.Scale) != len(st.Mean) || len(s.X) != s.Len()*s.Features {
		return Set{}, fmt.Errorf("%w: standardizer for %d features applied to a set of %d features",
			ErrConfig, len(st.Mean), s.Features)
	}
	out := s.Clone()
	for i := range out.Len() {
		row := out.Row(i)
		for j := range row {
			row[j] = (row[j] - st.Mean[j]) / st.Scale[j]
		}
	}
	return out, nil
}
