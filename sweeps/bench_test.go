package sweeps

import (
	"strings"
	"testing"
)

// benchIDs walks a sweep's trials, computing every ID, as the coordinator
// does at submission.
func benchIDs(b *testing.B, y string) {
	s, err := Parse([]byte(y), "bench.yaml")
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	b.ResetTimer()
	for range b.N {
		ForEachTrial(s, func(t *Trial) { n += len(t.ID) })
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(s.Len()), "ns/trial")
}

// BenchmarkExpandNamed: a grid of named axes only (12,000 trials).
func BenchmarkExpandNamed(b *testing.B) {
	benchIDs(b, gridOf(100, 20, 6))
}

// BenchmarkExpandFieldAxes: the same grid with a numeric field axis and a
// string field axis (the latter a template per value).
func BenchmarkExpandFieldAxes(b *testing.B) {
	y := strings.Replace(gridOf(100, 10, 3), "grid:\n", "grid:\n  axes: {curvature.examples: [16, 32], optimizer.name: [sgd, adam]}\n", 1)
	benchIDs(b, y)
}
