package compute

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/flatsweep/flatsweep/compute/train"
	"github.com/flatsweep/flatsweep/spec"
)

// mnistDir returns the MNIST directory of a checkout (data/mnist at the
// project root, or ../shared/data/mnist beside it), or skips.
func mnistDir(b testing.TB) string {
	for _, dir := range []string{filepath.Join("..", "data", "mnist"), filepath.Join("..", "..", "shared", "data", "mnist")} {
		if _, err := os.Stat(filepath.Join(dir, "t10k-images-idx3-ubyte.gz")); err == nil {
			return dir
		}
	}
	b.Skip("MNIST not available at data/mnist or ../shared/data/mnist from the project root")
	return ""
}

// BenchmarkTrackOverhead measures the cost of tracking λ₁ once per epoch
// (curvature.track: {every: 1}, default settings) on the keskar-f1 setting
// (sweeps/keskar-f1.yaml: MNIST N = 8,000, a 784-512-512-10 ReLU MLP, Adam
// ε = 1e-3, 20 epochs) at its two batch sizes. Every iteration trains the
// same trial twice, without and with tracking, side by side (alternating
// which goes first), and reports
// the tracked run's extra time as a percentage of the plain run's
// ("overhead-%"), the part of it spent inside the measurements
// ("measuring-%", the rest being training slowed down beside them) and the
// mean Hessian-vector products per measurement. Run it with
//
//	go test -tags openblas -run '^$' -bench TrackOverhead -benchtime 1x -count 3 ./compute/
func BenchmarkTrackOverhead(b *testing.B) {
	dir := mnistDir(b)
	for _, bs := range []int{256, 800} {
		b.Run(fmt.Sprintf("B=%d", bs), func(b *testing.B) {
			ts := spec.Trial{
				Dataset:   spec.Dataset{Name: spec.DatasetMNIST, Dir: dir, N: 8000, NTest: 2000, Seed: 1},
				Model:     spec.Model{Arch: spec.ArchMLP, Hidden: []int{512, 512}, Activation: "relu"},
				BatchSize: bs, LR: 0.001, Epochs: 20, Seed: 1,
				Training:  spec.Training{Optimizer: spec.Optimizer{Name: spec.OptimizerAdam}},
				Curvature: spec.Curvature{Examples: 2000, LanczosSteps: 30, Track: spec.Track{Every: 1}},
			}
			trainSet, testSet, shape, err := loadData(ts.Dataset)
			if err != nil {
				b.Fatal(err)
			}
			net, err := buildNetwork(ts.Model, trainSet.Features, trainSet.Classes, shape)
			if err != nil {
				b.Fatal(err)
			}
			theta0, _, _ := initialParams(ts, net)
			var plain, tracked, inside time.Duration
			var hvps, points int
			for i := range b.N {
				for _, track := range []bool{i%2 == 1, i%2 == 0} { // alternate which run goes first
					cfg, trainNet, err := trainConfig(ts, net, trainSet.Features, shape)
					if err != nil {
						b.Fatal(err)
					}
					var tr *tracker
					if track {
						tr = newTracker(ts, net, trainSet)
						cfg.Probe = tr.probe()
						measure := cfg.Probe.Func
						cfg.Probe.Func = func(ctx context.Context, at train.ProbePoint, theta []float64) error {
							start := time.Now()
							defer func() { inside += time.Since(start) }()
							return measure(ctx, at, theta)
						}
					}
					start := time.Now()
					if _, err := train.Train(context.Background(), trainNet, slices.Clone(theta0), trainSet, testSet, cfg, nil); err != nil {
						b.Fatal(err)
					}
					if d := time.Since(start); track {
						tracked += d
						for _, p := range tr.points {
							hvps += p.HVPs
						}
						points += len(tr.points)
					} else {
						plain += d
					}
				}
			}
			b.ReportMetric(100*(tracked.Seconds()-plain.Seconds())/plain.Seconds(), "overhead-%")
			b.ReportMetric(100*inside.Seconds()/plain.Seconds(), "measuring-%")
			b.ReportMetric(float64(hvps)/float64(points), "hvps/measurement")
			b.ReportMetric(plain.Seconds()/float64(b.N), "train-s")
		})
	}
}
