package compute

import (
	"context"
	"math"
	"testing"

	"github.com/flatsweep/flatsweep/compute/curvature"
	"github.com/flatsweep/flatsweep/compute/nn"
	"github.com/flatsweep/flatsweep/compute/train"
	"github.com/flatsweep/flatsweep/spec"
)

// TestTrackAgreesWithColdLanczos: at every tracked point, the warm-started
// λ₁ agrees to the tolerance with a cold Lanczos run at the same weights and
// over the same examples converged to 1e-10 (0 ≤ λ_ref − λ ≤ tol·λ_ref: a
// Ritz value never exceeds λ₁), and the warm starts take at least 20 % fewer
// Hessian-vector products than cold runs to the same tolerance. (Those cold
// runs, stopped at a residual of 1e-2·λ, may settle on λ₂ when it is close
// to λ₁; they are counted, not compared.)
func TestTrackAgreesWithColdLanczos(t *testing.T) {
	const tol = 1e-2
	ts := spec.Trial{
		Dataset:   spec.Dataset{Name: "synthetic", N: 512, NTest: 128, Seed: 2},
		Model:     spec.Model{Arch: "mlp", Hidden: []int{32, 32}, Activation: "relu"},
		BatchSize: 32, LR: 0.05, Epochs: 12, Seed: 3,
		Curvature: spec.Curvature{LanczosSteps: 5, Track: spec.Track{Every: 1, Examples: 256, LanczosSteps: 200, Tol: tol}},
	}
	trainSet, testSet, shape, err := loadData(ts.Dataset)
	if err != nil {
		t.Fatal(err)
	}
	net, err := buildNetwork(ts.Model, trainSet.Features, trainSet.Classes, shape)
	if err != nil {
		t.Fatal(err)
	}
	theta, _, _ := initialParams(ts, net)
	cfg, trainNet, err := trainConfig(ts, net, trainSet.Features, shape)
	if err != nil {
		t.Fatal(err)
	}
	tr := newTracker(ts, net, trainSet)
	if tr.set.Len() != 256 {
		t.Fatalf("tracking subset of %d examples, want 256", tr.set.Len())
	}
	var warm, cold int
	p := tr.probe()
	inner := p.Func
	p.Func = func(ctx context.Context, at train.ProbePoint, th []float64) error {
		if err := inner(ctx, at, th); err != nil {
			return err
		}
		got := tr.points[len(tr.points)-1]
		h := nn.NewHessian(net, th, tr.set.X, tr.set.Y, chunkRows(net))
		start := make([]float64, h.Dim())
		curvature.RandomUnit(start, pcg(int64(at.Step), 99))
		c, err := curvature.Lanczos(ctx, h.Dim(), h.Apply, start, curvature.Settings{Steps: 200, Tol: tol})
		if err != nil {
			return err
		}
		ref, err := curvature.Lanczos(ctx, h.Dim(), h.Apply, start, curvature.Settings{Steps: 400, Tol: 1e-10})
		if err != nil {
			return err
		}
		if !got.LambdaConverged || !c.Converged {
			t.Errorf("step %d: warm converged %v, cold converged %v", at.Step, got.LambdaConverged, c.Converged)
		}
		if d := ref.Value - got.LambdaMax; d < -1e-12*ref.Value || d > tol*ref.Value {
			t.Errorf("step %d: tracked λ₁ = %.10g, cold reference %.10g (difference %.3g, tolerance %.3g)", at.Step, got.LambdaMax, ref.Value, d, tol*ref.Value)
		}
		if len(tr.points) > 1 { // the first measurement is itself cold
			warm += got.HVPs
			cold += c.Products
		}
		return nil
	}
	cfg.Probe = p
	if _, err := train.Train(context.Background(), trainNet, theta, trainSet, testSet, cfg, nil); err != nil {
		t.Fatal(err)
	}
	if len(tr.points) != ts.Epochs+1 {
		t.Fatalf("%d points, want %d (the initialization and every epoch)", len(tr.points), ts.Epochs+1)
	}
	t.Logf("warm-started: %d products, cold: %d, over %d measurements", warm, cold, len(tr.points)-1)
	if 5*warm >= 4*cold {
		t.Errorf("warm-started measurements took %d products, cold ones %d: want at least 20 %% fewer", warm, cold)
	}
}

// TestEdgeOfStability: full-batch gradient descent with step ε on a small
// tanh network with squared error sharpens progressively — λ₁ starts well
// below 2/ε — until λ₁ reaches 2/ε, and then stays within 10 % of it for the
// rest of training while the loss keeps falling (Cohen et al. 2021).
func TestEdgeOfStability(t *testing.T) {
	const lr = 0.25
	ts := spec.Trial{
		Dataset:   spec.Dataset{Name: "synthetic", N: 512, NTest: 64, Seed: 1},
		Model:     spec.Model{Arch: "mlp", Hidden: []int{64, 64}, Activation: "tanh", Loss: spec.LossMSE},
		BatchSize: 512, LR: lr, Seed: 2,
		Training:  spec.Training{Steps: 1500},
		Curvature: spec.Curvature{LanczosSteps: 5, Track: spec.Track{Every: 50, Unit: spec.TrackStep, Examples: -1, LanczosSteps: 20, Tol: 1e-3}},
	}
	res, err := RunTrial(context.Background(), ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	limit := 2 / lr
	if len(res.Sharpness) != 1500/50+1 {
		t.Fatalf("%d points, want %d", len(res.Sharpness), 1500/50+1)
	}
	low, reached := math.Inf(1), -1
	for i, p := range res.Sharpness {
		if p.StabilityLimit != limit {
			t.Fatalf("point %d: stability limit %v, want 2/ε = %v", i, p.StabilityLimit, limit)
		}
		if reached < 0 {
			low = min(low, p.LambdaMax)
			if p.LambdaMax >= 0.9*limit {
				reached = i
			}
		}
	}
	if reached < 0 {
		t.Fatalf("λ₁ never reached 0.9·2/ε = %.3g: %+v", 0.9*limit, res.Sharpness)
	}
	if low > 0.8*limit {
		t.Errorf("no progressive sharpening: λ₁ was ≥ %.3g before reaching 2/ε = %.3g", low, limit)
	}
	for _, p := range res.Sharpness[reached:] {
		if math.Abs(p.LambdaMax/limit-1) > 0.1 {
			t.Errorf("step %d: λ₁ = %.4g, more than 10 %% from 2/ε = %.4g after reaching it at step %d", p.Step, p.LambdaMax, limit, res.Sharpness[reached].Step)
		}
	}
	t.Logf("λ₁ from %.3g rose to 2/ε = %.3g by step %d and stayed within 10 %%; final %.4g, train loss %.3g",
		low, limit, res.Sharpness[reached].Step, res.Sharpness[len(res.Sharpness)-1].LambdaMax, res.TrainLoss)
	if first := res.Curve[0].TrainLoss; !(res.TrainLoss < first/10) {
		t.Errorf("loss fell from %.3g to %.3g only", first, res.TrainLoss)
	}
}

// TestStabilityLimit: on the quadratic ½λx², the update rule the trainer
// implements is stable just below spec.StabilityLimit and unstable just
// above it, for plain SGD, heavy-ball and Nesterov momentum.
func TestStabilityLimit(t *testing.T) {
	const lr = 0.1
	for _, o := range []spec.Optimizer{{}, {Momentum: 0.9}, {Momentum: 0.5, Nesterov: true}} {
		limit := spec.StabilityLimit(o, lr)
		for _, c := range []struct {
			scale  float64
			stable bool
		}{{0.98, true}, {1.02, false}} {
			u, err := train.NewUpdater(train.Optimizer{Momentum: o.Momentum, Nesterov: o.Nesterov}, 1)
			if err != nil {
				t.Fatal(err)
			}
			lam := c.scale * limit
			x := []float64{1}
			for range 3000 {
				u.Step(x, []float64{lam * x[0]}, lr)
			}
			if stable := math.Abs(x[0]) < 1; stable != c.stable {
				t.Errorf("%+v: λ = %.3f × limit %.4g: |x| = %.3g after 3000 steps, stable %v, want %v", o, c.scale, limit, math.Abs(x[0]), stable, c.stable)
			}
		}
	}
	if spec.StabilityLimit(spec.Optimizer{Name: spec.OptimizerAdam}, lr) != 0 {
		t.Error("Adam has no fixed stability limit")
	}
}

// TestStopTrial: a trial with a fit target stops there, records it, and
// measures λ₁ along training up to the point it stopped at.
func TestStopTrial(t *testing.T) {
	ts := spec.Trial{
		Dataset:   spec.Dataset{Name: "synthetic", N: 256, NTest: 64, Seed: 1},
		Model:     spec.Model{Arch: "mlp", Hidden: []int{32}, Activation: "relu"},
		BatchSize: 32, LR: 0.1, Epochs: 200, Seed: 1,
		Training:  spec.Training{Stop: spec.Stop{TrainAcc: 0.9}},
		Curvature: spec.Curvature{LanczosSteps: 5, Track: spec.Track{Every: 5}},
	}
	res, err := RunTrial(context.Background(), ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	last := res.Curve[len(res.Curve)-1]
	if !res.TargetReached || last.TrainAcc < 0.9 || len(res.Curve) >= ts.Epochs || res.Steps != last.Step {
		t.Fatalf("reached %v at epoch %d (train accuracy %.3f, %d steps)", res.TargetReached, last.Epoch, last.TrainAcc, res.Steps)
	}
	if before := res.Curve[len(res.Curve)-2]; before.TrainAcc >= 0.9 {
		t.Errorf("the epoch before the stop already met the target: %.3f", before.TrainAcc)
	}
	if p := res.Sharpness[len(res.Sharpness)-1]; p.Step != res.Steps {
		t.Errorf("last λ₁ measurement at step %d, training stopped at %d", p.Step, res.Steps)
	}
}
