// Package data generates or loads the data sets of a trial.
//
// Real data sets are read from files: MNIST-format IDX files (MNIST,
// Fashion-MNIST, KMNIST) by LoadIDX and CIFAR-10 binary batches by
// LoadCIFAR10, plain or gzip-compressed. Set.Sample, Set.Split and
// Standardizer prepare them (seeded subsampling, a seeded train/test split of a
// single file, per-feature standardization fitted on the training set).
//
// The "synthetic" data set is a classification task generated
// deterministically from a seed, with nothing read from files. Inputs are
// standard Gaussian vectors x ∈ R^d; the clean label of x is the argmax over
// the k outputs of a fixed random teacher network
//
//	t(x) = W₂ tanh(W₁ x / √d · TeacherScale) + b₂,  W₁ (h×d), W₂ (k×h) ~ N(0, 1),
//
// with h = TeacherHidden hidden units and b₂ chosen as minus the mean teacher
// output over a fixed reference sample of 4096 inputs, so the classes are
// roughly balanced. A fraction LabelNoise of the training labels is then
// replaced by a class drawn uniformly from all k classes (so the label actually
// changes with probability LabelNoise·(k−1)/k); test labels stay clean.
//
// Every random stream is a PCG generator (math/rand/v2) seeded with the data
// seed and a fixed stream constant: one for the teacher, one for the training
// inputs, one for the test inputs and one for the label noise. Hence the data
// are identical across runs and machines, and the first N′ training examples
// of a set with N ≥ N′ examples are exactly the set with N′ examples (likewise
// for the test set), which keeps training-set-size sweeps nested.
package data

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Defaults used when the corresponding SyntheticConfig field is zero.
const (
	DefaultFeatures      = 16
	DefaultClasses       = 4
	DefaultTeacherHidden = 32
	DefaultTeacherScale  = 1.0
)

// PCG stream constants of the synthetic generator.
const (
	streamTeacher uint64 = 0x7465616368657201 + iota
	streamTrain
	streamTest
	streamNoise
)

// referenceSize is the number of reference inputs that center the teacher.
const referenceSize = 4096

// ErrConfig is returned for an invalid SyntheticConfig.
var ErrConfig = errors.New("data: invalid configuration")

// Set is a labelled data set: N examples of Features inputs in the row-major
// N×Features matrix X and their labels Y ∈ {0, …, Classes−1}.
type Set struct {
	X        []float64
	Y        []int
	Features int
	Classes  int
}

// Len returns the number of examples.
func (s Set) Len() int { return len(s.Y) }

// Row returns example i's inputs (a view into X).
func (s Set) Row(i int) []float64 { return s.X[i*s.Features : (i+1)*s.Features] }

// Subset returns a copy of the examples with the given indices, in that order.
func (s Set) Subset(idx []int) Set {
	out := Set{X: make([]float64, 0, len(idx)*s.Features), Y: make([]int, len(idx)),
		Features: s.Features, Classes: s.Classes}
	for j, i := range idx {
		out.X = append(out.X, s.Row(i)...)
		out.Y[j] = s.Y[i]
	}
	return out
}

// SyntheticConfig parametrizes the synthetic task (see the package comment).
type SyntheticConfig struct {
	N, NTest      int     // training and test examples (≥ 0)
	Features      int     // input dimension d (0: DefaultFeatures)
	Classes       int     // number of classes k ≥ 2 (0: DefaultClasses)
	LabelNoise    float64 // fraction in [0, 1] of training labels redrawn
	Seed          int64   // data seed
	TeacherHidden int     // teacher hidden width (0: DefaultTeacherHidden)
	TeacherScale  float64 // teacher input scale (0: DefaultTeacherScale)
}

func (c *SyntheticConfig) defaults() {
	if c.Features == 0 {
		c.Features = DefaultFeatures
	}
	if c.Classes == 0 {
		c.Classes = DefaultClasses
	}
	if c.TeacherHidden == 0 {
		c.TeacherHidden = DefaultTeacherHidden
	}
	if c.TeacherScale == 0 {
		c.TeacherScale = DefaultTeacherScale
	}
}

func (c SyntheticConfig) validate() error {
	switch {
	case c.N < 0 || c.NTest < 0:
		return fmt.Errorf("%w: negative size (n=%d, n_test=%d)", ErrConfig, c.N, c.NTest)
	case c.Features < 1:
		return fmt.Errorf("%w: features = %d", ErrConfig, c.Features)
	case c.Classes < 2:
		return fmt.Errorf("%w: classes = %d", ErrConfig, c.Classes)
	case c.TeacherHidden < 1:
		return fmt.Errorf("%w: teacher hidden = %d", ErrConfig, c.TeacherHidden)
	case !(c.LabelNoise >= 0 && c.LabelNoise <= 1):
		return fmt.Errorf("%w: label noise = %v", ErrConfig, c.LabelNoise)
	case math.IsNaN(c.TeacherScale) || math.IsInf(c.TeacherScale, 0):
		return fmt.Errorf("%w: teacher scale = %v", ErrConfig, c.TeacherScale)
	}
	return nil
}

// teacher is the random labelling network.
type teacher struct {
	d, h, k int
	w1, w2  []float64 // h×d, k×h
	b2      []float64 // k
	scale   float64
	hid     []float64 // scratch h
	out     []float64 // scratch k
}

// logits sets t.out to the teacher outputs of x.
func (t *teacher) logits(x []float64) []float64 {
	for j := 0; j < t.h; j++ {
		var s float64
		for i, xi := range x {
			s += t.w1[j*t.d+i] * xi
		}
		t.hid[j] = math.Tanh(s * t.scale)
	}
	for c := 0; c < t.k; c++ {
		s := t.b2[c]
		for j, hj := range t.hid {
			s += t.w2[c*t.h+j] * hj
		}
		t.out[c] = s
	}
	return t.out
}

func (t *teacher) label(x []float64) int {
	out := t.logits(x)
	arg := 0
	for c, v := range out {
		if v > out[arg] {
			arg = c
		}
	}
	return arg
}

func newTeacher(c SyntheticConfig) *teacher {
	rng := rand.New(rand.NewPCG(uint64(c.Seed), streamTeacher))
	t := &teacher{d: c.Features, h: c.TeacherHidden, k: c.Classes,
		w1: make([]float64, c.TeacherHidden*c.Features), w2: make([]float64, c.Classes*c.TeacherHidden),
		b2: make([]float64, c.Classes), scale: c.TeacherScale / math.Sqrt(float64(c.Features)),
		hid: make([]float64, c.TeacherHidden), out: make([]float64, c.Classes)}
	for i := range t.w1 {
		t.w1[i] = rng.NormFloat64()
	}
	for i := range t.w2 {
		t.w2[i] = rng.NormFloat64()
	}
	mean := make([]float64, c.Classes)
	x := make([]float64, c.Features)
	for r := 0; r < referenceSize; r++ {
		for i := range x {
			x[i] = rng.NormFloat64()
		}
		for j, v := range t.logits(x) {
			mean[j] += v
		}
	}
	for j := range mean {
		t.b2[j] = -mean[j] / referenceSize
	}
	return t
}

// inputs draws n standard Gaussian rows of width d from stream.
func inputs(seed int64, stream uint64, n, d int) []float64 {
	rng := rand.New(rand.NewPCG(uint64(seed), stream))
	x := make([]float64, n*d)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	return x
}

// Synthetic generates the training and test sets of the synthetic task.
func Synthetic(cfg SyntheticConfig) (train, test Set, err error) {
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		return Set{}, Set{}, err
	}
	t := newTeacher(cfg)
	mk := func(stream uint64, n int) Set {
		s := Set{X: inputs(cfg.Seed, stream, n, cfg.Features), Y: make([]int, n),
			Features: cfg.Features, Classes: cfg.Classes}
		for i := range s.Y {
			s.Y[i] = t.label(s.Row(i))
		}
		return s
	}
	train, test = mk(streamTrain, cfg.N), mk(streamTest, cfg.NTest)
	noise := rand.New(rand.NewPCG(uint64(cfg.Seed), streamNoise))
	for i := range train.Y {
		u, c := noise.Float64(), noise.IntN(cfg.Classes) // always draw both: nested sets
		if u < cfg.LabelNoise {
			train.Y[i] = c
		}
	}
	return train, test, nil
}

// ClassCounts returns the number of examples of each class.
func (s Set) ClassCounts() []int {
	counts := make([]int, s.Classes)
	for _, y := range s.Y {
		counts[y]++
	}
	return counts
}

// Clone returns a deep copy of s.
func (s Set) Clone() Set {
	return Set{X: slices.Clone(s.X), Y: slices.Clone(s.Y), Features: s.Features, Classes: s.Classes}
}
