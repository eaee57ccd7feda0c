package compute_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/flatsweep/flatsweep/compute"
	"github.com/flatsweep/flatsweep/spec"
)

// TestTrialLandscape: a trial with curvature.landscape fills
// Result.Landscape with the grid it asks for (2-D: points² values, a
// fastest; the subsets capped at the set sizes), the centre is the trained
// θ (its loss over the whole capped training set equals the trial's final
// training loss), the result is deterministic and JSON-encodable, the other
// results do not change, and a trial without the block has none.
func TestTrialLandscape(t *testing.T) {
	ctx := context.Background()
	base := smallSpec()
	plain, err := compute.RunTrial(ctx, base, nil)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Landscape != nil {
		t.Fatalf("landscape without the block: %+v", plain.Landscape)
	}
	ts := base
	ts.Curvature.Landscape = spec.LandscapeSettings{Dims: 2, Points: 5, Extent: 0.5, TestExamples: 100}
	res, err := compute.RunTrial(ctx, ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := res.Landscape
	if l == nil {
		t.Fatal("no landscape")
	}
	if l.Kind != "2d" || len(l.A) != 5 || len(l.B) != 5 || len(l.TrainLoss) != 25 || len(l.TestAcc) != 25 ||
		l.Evaluations != 25 || l.Examples != 256 || l.TestExamples != 100 {
		t.Fatalf("landscape shape: kind %s, %d×%d, %d values, %d evaluations, %d/%d examples",
			l.Kind, len(l.A), len(l.B), len(l.TrainLoss), l.Evaluations, l.Examples, l.TestExamples)
	}
	if l.A[0] != -0.5 || l.A[2] != 0 || l.A[4] != 0.5 || !reflect.DeepEqual(l.A, l.B) {
		t.Errorf("grid %v × %v", l.A, l.B)
	}
	// The centre (a, b) = (0, 0) is θ: the whole training set (256 < 1000
	// examples) at the final parameters.
	if c := l.TrainLoss[2*5+2]; math.Abs(c-res.TrainLoss) > 1e-12*res.TrainLoss {
		t.Errorf("centre loss %v, trial's final training loss %v", c, res.TrainLoss)
	}
	// The loss grows away from the minimum in most directions: the corners
	// are above the centre on average.
	corners := (l.TrainLoss[0] + l.TrainLoss[4] + l.TrainLoss[20] + l.TrainLoss[24]) / 4
	if !(corners > l.TrainLoss[12]) {
		t.Errorf("corners %v, centre %v", corners, l.TrainLoss[12])
	}
	if res.LambdaMax != plain.LambdaMax || res.TrainLoss != plain.TrainLoss {
		t.Errorf("the landscape changed the other results")
	}
	again, err := compute.RunTrial(ctx, ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again.Landscape, l) {
		t.Error("landscape not deterministic")
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var back spec.Result
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back.Landscape, l) {
		t.Errorf("JSON round trip: %v", err)
	}
	// 1-D with the defaults: 51 points.
	one := base
	one.Curvature.Landscape = spec.LandscapeSettings{Dims: 1, Bias: spec.BiasNormalize}
	r1, err := compute.RunTrial(ctx, one, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l := r1.Landscape; l == nil || l.Kind != "1d" || len(l.A) != 51 || len(l.B) != 0 || len(l.TrainLoss) != 51 || l.TestExamples != 128 {
		t.Errorf("1-D landscape %+v", r1.Landscape)
	}
}

// TestLandscapeLineOfTrial: the line from θ = 0 to a trial's trained θ,
// through compute.LandscapeLine, gives the trained model's loss at α = 1
// and, at α = 0, the loss of uniform outputs, log 4 over the 4 classes.
func TestLandscapeLineOfTrial(t *testing.T) {
	ctx := context.Background()
	ts := smallSpec()
	res, tr, err := compute.Run(ctx, ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := compute.WriteWeights(&buf, tr.Net, tr.Theta, nil); err != nil {
		t.Fatal(err)
	}
	m, trainSet, testSet, err := compute.LoadModelSets(ts, bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	zero := make([]float64, len(m.Theta))
	l, err := compute.LandscapeLine(ctx, ts, m.Net, zero, m.Theta, []float64{0, 0.5, 1}, trainSet, testSet, 1000, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if l.Kind != "line" || math.Abs(l.TrainLoss[2]-res.TrainLoss) > 1e-12*res.TrainLoss || math.Abs(l.TestLoss[2]-res.TestLoss) > 1e-12*res.TestLoss {
		t.Errorf("line at α = 1: %v / %v, trial %v / %v", l.TrainLoss[2], l.TestLoss[2], res.TrainLoss, res.TestLoss)
	}
	if math.Abs(l.TrainLoss[0]-math.Log(4)) > 1e-12 { // θ = 0: uniform outputs over 4 classes
		t.Errorf("line at α = 0 (θ = 0): %v, want log 4", l.TrainLoss[0])
	}
	ctxc, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := compute.LandscapeLine(ctxc, ts, m.Net, zero, m.Theta, []float64{0, 1}, trainSet, testSet, 10, 10); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
