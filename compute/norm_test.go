package compute_test

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/flatsweep/flatsweep/compute"
	"github.com/flatsweep/flatsweep/compute/curvature"
	"github.com/flatsweep/flatsweep/compute/nn"
	"github.com/flatsweep/flatsweep/spec"
)

// normSpec is smallSpec with batch normalization and dropout 0.3 and two
// measures.
func normSpec() spec.Trial {
	t := smallSpec()
	t.Model.BatchNorm, t.Model.Dropout = true, 0.3
	ms, err := spec.SelectMeasures("trace", "keskar")
	if err != nil {
		panic(err)
	}
	t.Curvature.Measures = ms
	t.Curvature.Landscape = spec.LandscapeSettings{Dims: 1, Points: 5}
	return t
}

// TestRunTrialBatchNormDropout: a trial with batch normalization and
// dropout runs end to end, twice with bit-identical results (the same
// dropout masks and running statistics); the run's λ₁ is that of the
// Hessian in evaluation mode with the final running statistics (Lanczos on
// Trained.Net, whose buffers are those statistics, agrees to Lanczos
// precision); the final training metrics are evaluation-mode metrics on
// Trained.Net; a written model reads back to the same θ and statistics.
// The model's measures in LoadModel's network equal the run's, and the
// centre of the loss landscape has the reported training loss.
func TestRunTrialBatchNormDropout(t *testing.T) {
	ts := normSpec()
	a, tr, err := compute.Run(context.Background(), ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := compute.RunTrial(context.Background(), ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.WithoutTimes(), b.WithoutTimes()) {
		t.Fatalf("two runs of the same trial differ:\n%+v\n%+v", a, b)
	}
	if a.Diverged || !(a.LambdaMax > 0) || a.Measures["trace"] == 0 {
		t.Fatalf("diverged %t, λ₁ = %v, measures %v", a.Diverged, a.LambdaMax, a.Measures)
	}
	if got, want := a.Params, 16*16+16+2*16+16*16+16+2*16+16*4+4; got != want { // 16 features, 4 classes
		t.Errorf("P = %d, want %d", got, want)
	}
	bufs := tr.Net.Buffers()
	if steps := float64(a.Steps); bufs[2*16] != steps || bufs[len(bufs)-1] != steps {
		t.Errorf("batch counts %v and %v, want %d", bufs[2*16], bufs[len(bufs)-1], a.Steps)
	}
	var buf bytes.Buffer
	if err := compute.WriteWeights(&buf, tr.Net, tr.Theta, nil); err != nil {
		t.Fatal(err)
	}
	m, trainSet, _, err := compute.LoadModelSets(ts, bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.Theta, tr.Theta) || !reflect.DeepEqual(m.Net.Buffers(), bufs) {
		t.Errorf("the written model reads back to other parameters or statistics")
	}
	loss, acc := tr.Net.NewWorkspace(512).Loss(tr.Theta, trainSet.X, trainSet.Y)
	if loss != a.TrainLoss || acc != a.TrainAcc {
		t.Errorf("reported train loss %v, acc %v; evaluation mode on Trained.Net %v, %v", a.TrainLoss, a.TrainAcc, loss, acc)
	}
	ex := trainSet.Subset(a.CurvatureIndices)
	h := nn.NewHessian(tr.Net, tr.Theta, ex.X, ex.Y, 512)
	start := make([]float64, h.Dim())
	for i := range start {
		start[i] = math.Sin(float64(i + 1))
	}
	eig, err := curvature.Lanczos(context.Background(), h.Dim(), h.Apply, start,
		curvature.Settings{Steps: 60, Tol: 1e-8, Which: curvature.LargestAlgebraic})
	if err != nil {
		t.Fatal(err)
	}
	if rel := math.Abs(eig.Value-a.LambdaMax) / eig.Value; rel > 1e-2 {
		t.Errorf("λ₁ = %v; evaluation-mode Hessian's top eigenvalue %v (relative %.3g)", a.LambdaMax, eig.Value, rel)
	}
	init := make([]float64, tr.Net.NumBuffers())
	tr.Net.InitBuffers(init)
	fresh, err := tr.Net.WithBuffers(init)
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := fresh.NewWorkspace(512).Loss(tr.Theta, trainSet.X, trainSet.Y); l == loss {
		t.Errorf("the running statistics do not change the evaluation-mode loss")
	}
	// The landscape is in evaluation mode too: its centre is θ, whose loss
	// over the whole training set (256 examples, fewer than the default
	// 1000) is the reported one.
	if l := a.Landscape; l == nil || l.Examples != trainSet.Len() || math.Abs(l.TrainLoss[2]-a.TrainLoss) > 1e-12*a.TrainLoss {
		t.Errorf("landscape %+v: centre loss, want %v", l, a.TrainLoss)
	}
	mm, err := compute.Measure(context.Background(), ts, m)
	if err != nil {
		t.Fatal(err)
	}
	if mm.LambdaMax != a.LambdaMax || !reflect.DeepEqual(mm.Measures, a.Measures) {
		t.Errorf("measures of the read model: λ₁ %v, %v; the run's %v, %v", mm.LambdaMax, mm.Measures, a.LambdaMax, a.Measures)
	}
	// Another seed gives other masks, so another result.
	ts.Seed++
	c, err := compute.RunTrial(context.Background(), ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.TrainLoss == a.TrainLoss {
		t.Errorf("another seed gives the same training loss %v", c.TrainLoss)
	}
}

// TestTrackBatchNorm: λ₁ along training is taken in evaluation mode with
// the running statistics of each point: over the whole training set, the
// last point (the final θ and statistics) agrees with the run's λ₁ to
// Lanczos precision.
func TestTrackBatchNorm(t *testing.T) {
	ts := normSpec()
	ts.Curvature.Measures = spec.Measures{}
	ts.Curvature.Landscape = spec.LandscapeSettings{}
	ts.Curvature.Examples = 0 // the whole training set
	ts.Curvature.LanczosSteps = 40
	ts.Curvature.Tol = 1e-6
	ts.Curvature.Track = spec.Track{Every: 1, Examples: ts.Dataset.N, LanczosSteps: 40, Tol: 1e-6}
	res, err := compute.RunTrial(context.Background(), ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	pts := res.Sharpness
	if len(pts) != ts.Epochs+1 {
		t.Fatalf("%d sharpness points, want %d", len(pts), ts.Epochs+1)
	}
	last := pts[len(pts)-1]
	if rel := math.Abs(last.LambdaMax-res.LambdaMax) / res.LambdaMax; rel > 1e-4 {
		t.Errorf("last tracked λ₁ %v, the run's %v (relative %.3g)", last.LambdaMax, res.LambdaMax, rel)
	}
}

// TestWarmStartBatchNorm: a warm start from a written model starts from its
// running statistics too: the batch count goes on from the file's.
func TestWarmStartBatchNorm(t *testing.T) {
	ts := normSpec()
	ts.Curvature.Measures = spec.Measures{}
	ts.Curvature.Landscape = spec.LandscapeSettings{}
	first, tr, err := compute.Run(context.Background(), ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "w.safetensors")
	var buf bytes.Buffer
	if err := compute.WriteWeights(&buf, tr.Net, tr.Theta, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	warm := ts
	warm.Epochs = 1
	warm.WarmStart = spec.WarmStart{Path: path}
	second, tr2, err := compute.Run(context.Background(), warm, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := tr2.Net.Buffers()
	if got, want := b[len(b)-1], float64(first.Steps+second.Steps); got != want {
		t.Errorf("batch count after the warm start %v, want %v", got, want)
	}
}

// TestSWABatchNorm: a trial with batch norm and SWA recomputes the running
// statistics at θ_swa (one pass of ⌊N/B⌋ batches) and measures there.
func TestSWABatchNorm(t *testing.T) {
	ts := normSpec()
	ts.Curvature.Measures = spec.Measures{}
	ts.Curvature.Landscape = spec.LandscapeSettings{}
	ts.SWA = spec.SWA{Start: 2}
	res, tr, err := compute.Run(context.Background(), ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := tr.Net.Buffers()
	if want := float64(ts.Dataset.N / ts.BatchSize); b[len(b)-1] != want || !(res.LambdaMax > 0) {
		t.Errorf("batch count %v (want %v), λ₁ %v", b[len(b)-1], want, res.LambdaMax)
	}
}

// TestResMLPBatchNormDropout: a residual MLP with batch norm and dropout
// trains twice to bit-identical results and measures λ₁.
func TestResMLPBatchNormDropout(t *testing.T) {
	ts := normSpec()
	ts.Model = spec.Model{Arch: "resmlp", Width: 12, Blocks: 2, BatchNorm: true, Dropout: 0.3}
	ts.Curvature.Measures = spec.Measures{}
	ts.Curvature.Landscape = spec.LandscapeSettings{Dims: 1, Points: 3}
	a, err := compute.RunTrial(context.Background(), ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := compute.RunTrial(context.Background(), ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.WithoutTimes(), b.WithoutTimes()) || a.Diverged || !(a.LambdaMax > 0) {
		t.Errorf("runs equal %t, diverged %t, λ₁ %v", reflect.DeepEqual(a.WithoutTimes(), b.WithoutTimes()), a.Diverged, a.LambdaMax)
	}
}
