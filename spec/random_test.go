package spec_test

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// drawSweep returns a valid sweep drawing the given fields.
func drawSweep(t *testing.T, count int, draws spec.Draws) spec.Sweep {
	t.Helper()
	s := spec.Sweep{Name: "draws",
		Dataset: spec.Dataset{Name: spec.DatasetSynthetic, N: 4096, NTest: 64, Seed: 1},
		Model:   spec.Model{Arch: spec.ArchMLP, Hidden: []int{4}},
		Train:   spec.Train{Epochs: 1},
		Grid:    spec.Grid{Seed: []int64{1}},
		Random:  spec.Random{Seed: 5, Count: count, Draws: draws},
	}
	return s
}

// validSmall checks that the sweep with one configuration is valid (over
// many draws, some configurations repeat: Validate rejects those).
func validSmall(t *testing.T, s spec.Sweep) {
	t.Helper()
	s.Random.Count = 1
	if s.Random.Draws[0].Path != "lr" {
		s.Grid.LR = []float64{0.1}
	}
	s.Grid.BatchSize = []int{16}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
}

// drawn returns the values of axis k of the sweep's first count configurations.
func drawn(s spec.Sweep, path string) []any {
	for _, a := range s.Swept() {
		if a.Path == path {
			out := make([]any, s.Random.Count)
			for j := range out {
				out[j], _ = a.Draw(j)
			}
			return out
		}
	}
	return nil
}

// ksUniform returns the Kolmogorov–Smirnov statistic of xs against the
// uniform distribution on [a, b].
func ksUniform(xs []float64, a, b float64) float64 {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	n := float64(len(xs))
	d := 0.0
	for i, x := range xs {
		f := (x - a) / (b - a)
		d = max(d, math.Abs(f-float64(i)/n), math.Abs(float64(i+1)/n-f))
	}
	return d
}

// chiSquare returns Σ (observed − expected)²/expected over the bins.
func chiSquare(observed map[int]int, p map[int]float64, n int) float64 {
	x := 0.0
	for k, pk := range p {
		e := pk * float64(n)
		x += (float64(observed[k]) - e) * (float64(observed[k]) - e) / e
	}
	return x
}

const draws = 20000

// ksCritical is the KS critical value at significance 0.001 for n draws,
// 1.95/√n: a sample from the distribution exceeds it with probability
// 0.001.
var ksCritical = 1.95 / math.Sqrt(draws)

// TestUniformDraws: uniform draws lie in [low, high] and pass a KS test
// against U(low, high) at significance 0.001 (D < 1.95/√n, n = 20000).
func TestUniformDraws(t *testing.T) {
	s := drawSweep(t, draws, spec.Draws{{Path: "optimizer.momentum", Distribution: spec.Distribution{Dist: spec.DistUniform, Low: 0.1, High: 0.9}}})
	validSmall(t, s)
	var xs []float64
	for _, v := range drawn(s, "optimizer.momentum") {
		x := v.(float64)
		if x < 0.1 || x > 0.9 {
			t.Fatalf("draw %v outside [0.1, 0.9]", x)
		}
		xs = append(xs, x)
	}
	if d := ksUniform(xs, 0.1, 0.9); d > ksCritical {
		t.Errorf("KS statistic %.4f > %.4f", d, ksCritical)
	}
}

// TestLogUniformDraws: ln of log-uniform draws on [1e-4, 1] passes a KS
// test against U(ln 1e-4, 0) at significance 0.001, and the draws are
// rounded to 6 significant digits (DefaultDigits) unless Digits says
// otherwise.
func TestLogUniformDraws(t *testing.T) {
	s := drawSweep(t, draws, spec.Draws{{Path: "lr", Distribution: spec.Distribution{Dist: spec.DistLogUniform, Low: 1e-4, High: 1}}})
	validSmall(t, s)
	var logs []float64
	for _, v := range drawn(s, "lr") {
		x := v.(float64)
		if x < 1e-4 || x > 1 {
			t.Fatalf("draw %v outside [1e-4, 1]", x)
		}
		if js, _ := json.Marshal(x); len(js) > len("0.000123456") {
			t.Fatalf("draw %s has more than 6 significant digits", js)
		}
		logs = append(logs, math.Log(x))
	}
	if d := ksUniform(logs, math.Log(1e-4), 0); d > ksCritical {
		t.Errorf("KS statistic of ln x %.4f > %.4f", d, ksCritical)
	}
	// A uniform sample of x itself is far from it: the test can fail.
	var xs []float64
	for _, l := range logs {
		xs = append(xs, math.Exp(l))
	}
	if d := ksUniform(xs, 1e-4, 1); d < 10*ksCritical {
		t.Errorf("log-uniform draws look uniform: KS %.4f", d)
	}
	s.Random.Draws[0].Digits = 2
	for _, v := range drawn(s, "lr")[:100] {
		x := v.(float64)
		if r, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 2, 64), 64); r != x {
			t.Fatalf("draw %v not at 2 significant digits", x)
		}
	}
}

// TestIntDraws: integer draws lie in {low, …, high}, both bounds included
// and drawn, and their frequencies pass a χ² test at significance 0.001
// (uniform: 6 bins, 5 degrees of freedom, χ² < 20.5; log: P(k) ∝
// ln((k + ½)/(k − ½)) on 1…10, 9 degrees of freedom, χ² < 27.9).
func TestIntDraws(t *testing.T) {
	for _, c := range []struct {
		name     string
		dist     spec.Distribution
		p        func(k int) float64
		critical float64
	}{
		{"uniform", spec.Distribution{Dist: spec.DistInt, Low: 3, High: 8}, func(int) float64 { return 1.0 / 6 }, 20.5},
		{"log", spec.Distribution{Dist: spec.DistInt, Low: 1, High: 10, Log: true},
			func(k int) float64 { return math.Log((float64(k)+0.5)/(float64(k)-0.5)) / math.Log(10.5/0.5) }, 27.9},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := drawSweep(t, draws, spec.Draws{{Path: "curvature.examples", Distribution: c.dist}})
			validSmall(t, s)
			counts := map[int]int{}
			for _, v := range drawn(s, "curvature.examples") {
				k := v.(int)
				if k < int(c.dist.Low) || k > int(c.dist.High) {
					t.Fatalf("draw %d outside [%g, %g]", k, c.dist.Low, c.dist.High)
				}
				counts[k]++
			}
			p := map[int]float64{}
			for k := int(c.dist.Low); k <= int(c.dist.High); k++ {
				p[k] = c.p(k)
				if counts[k] == 0 {
					t.Errorf("value %d never drawn", k)
				}
			}
			if x := chiSquare(counts, p, draws); x > c.critical {
				t.Errorf("χ² = %.2f > %.1f; counts %v", x, c.critical, counts)
			}
		})
	}
}

// TestChoiceDraws: each of three choices is drawn with frequency 1/3 (χ²
// test at significance 0.001, 2 degrees of freedom: χ² < 13.8), and the
// value drawn is the listed one, decoded to the field's type.
func TestChoiceDraws(t *testing.T) {
	s := drawSweep(t, draws, spec.Draws{{Path: "model.hidden", Distribution: spec.Distribution{Dist: spec.DistChoice,
		Values: []json.RawMessage{json.RawMessage("[4]"), json.RawMessage("[8, 8]"), json.RawMessage("[16]")}}}})
	s.Model.Hidden = nil
	validSmall(t, s)
	counts := map[int]int{}
	for _, v := range drawn(s, "model.hidden") {
		h := v.([]int)
		counts[h[0]]++
	}
	if x := chiSquare(map[int]int{0: counts[4], 1: counts[8], 2: counts[16]}, map[int]float64{0: 1.0 / 3, 1: 1.0 / 3, 2: 1.0 / 3}, draws); x > 13.8 || len(counts) != 3 {
		t.Errorf("χ² = %.2f > 13.8; counts %v", x, counts)
	}
}

// TestUniformStream: the uniform stream is a pure function of (seed, j,
// path), pinned here, and distinct for different arguments.
func TestUniformStream(t *testing.T) {
	u, w := spec.Uniform(1, 0, "lr")
	if u != float64(w>>11)/(1<<53) || u < 0 || u >= 1 {
		t.Fatalf("u %v, word %x", u, w)
	}
	if w != uniformRef {
		t.Errorf("word %#x, want %#x", w, uniformRef)
	}
	seen := map[uint64]bool{w: true}
	for _, c := range []struct {
		seed int64
		j    int
		path string
	}{{2, 0, "lr"}, {1, 1, "lr"}, {1, 0, "batch_size"}} {
		_, w := spec.Uniform(c.seed, c.j, c.path)
		if seen[w] {
			t.Errorf("%+v repeats a word", c)
		}
		seen[w] = true
	}
}

const uniformRef = 0xfe0f89b29eb66cc

// TestSamplePointPermutes: SamplePoint is a permutation of {0, …, n−1} for
// every n and seed tried, and its first and last points are uniform over
// the n points across seeds (χ² over 20000 seeds, n − 1 degrees of
// freedom, significance 0.001).
func TestSamplePointPermutes(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 5, 7, 16, 17, 100, 1000} {
		for seed := int64(0); seed < 5; seed++ {
			seen := make([]bool, n)
			for j := range n {
				p := spec.SamplePoint(seed, j, n)
				if p < 0 || p >= n || seen[p] {
					t.Fatalf("n %d seed %d: π(%d) = %d repeats or is out of range", n, seed, j, p)
				}
				seen[p] = true
			}
		}
	}
	// χ² critical values at significance 0.001 for n − 1 degrees of freedom.
	for _, c := range []struct {
		n, j     int
		critical float64
	}{{3, 0, 13.8}, {3, 2, 13.8}, {10, 0, 27.9}, {10, 9, 27.9}, {100, 0, 148.2}, {100, 99, 148.2}} {
		counts := map[int]int{}
		p := map[int]float64{}
		for k := range c.n {
			p[k] = 1 / float64(c.n)
		}
		for seed := range int64(draws) {
			counts[spec.SamplePoint(seed, c.j, c.n)]++
		}
		if x := chiSquare(counts, p, draws); x > c.critical {
			t.Errorf("n %d: π(%d) over seeds: χ² = %.2f > %.1f", c.n, c.j, x, c.critical)
		}
	}
}
