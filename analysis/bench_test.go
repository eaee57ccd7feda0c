package analysis

import (
	"math"
	"math/rand/v2"
	"testing"
)

// BenchmarkAnalyze analyses a sweep of 12 B × 6 ε × 2 N × 5 seeds = 720
// trials with three flatness measures: every fit, interval (1,000
// bootstrap resamples each), environment and collapse.
func BenchmarkAnalyze(b *testing.B) {
	pts := sweepPoints(rand.New(rand.NewPCG(1, 2)), pow2s(4, 8192), []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.5}, []float64{1000, 2000}, 5, 0.005, plantedAcc)
	for i := range pts {
		p := &pts[i]
		p.TestExamples = 2000
		p.Metrics[MetricLambdaMax] = p.Axes[AxisB] / p.Axes[AxisLR]
		p.Metrics["trace"] = math.Sqrt(p.Axes[AxisB]) + float64(i%7)
		p.Metrics["keskar_full_1e-3"] = p.Metrics[MetricGap] * (1 + 0.1*float64(i%3))
	}
	b.ResetTimer()
	for range b.N {
		Analyze("bench", pts)
	}
}
