package compute

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/flatsweep/flatsweep/compute/curvature"
	"github.com/flatsweep/flatsweep/compute/data"
	"github.com/flatsweep/flatsweep/compute/nn"
	"github.com/flatsweep/flatsweep/compute/train"
	"github.com/flatsweep/flatsweep/spec"
)

// tracker measures the curvature along training (spec.Track): each
// measurement is a Lanczos run on the Hessian of the unregularized loss over
// a fixed subset of the training set, started from the previous
// measurement's top Ritz vector.
type tracker struct {
	net      *nn.Network
	set      data.Set
	settings spec.Track
	opt      spec.Optimizer
	rows     int
	rng      *rand.Rand // the first start vector and the trace probes
	start    []float64  // the previous top Ritz vector (nil before the first run)
	points   []spec.SharpnessPoint
	// h and work are the Hessian operator and the Lanczos memory, kept
	// between measurements so that they allocate nothing once warm.
	h    *nn.Hessian
	work curvature.Workspace
}

// newTracker returns the tracker of t for net over trainSet, or nil when t
// does not track.
func newTracker(t spec.Trial, net *nn.Network, trainSet data.Set) *tracker {
	k := t.Curvature.Track
	if !k.Enabled() {
		return nil
	}
	k = k.WithDefaults(trainSet.Len())
	set := subset(trainSet, sampleIndices(pcg(t.Seed, streamTrackSubset), trainSet.Len(), k.Examples))
	return &tracker{net: net, set: set, settings: k, opt: t.WithDefaults().Optimizer, rows: chunkRows(net),
		rng: pcg(t.Seed, streamTrack)}
}

// probe returns the train.Probe that records the tracker's measurements.
func (tr *tracker) probe() *train.Probe {
	return &train.Probe{Every: tr.settings.Every, Steps: tr.settings.Unit == spec.TrackStep, Func: tr.measure}
}

// measure takes one measurement at θ.
func (tr *tracker) measure(ctx context.Context, at train.ProbePoint, theta []float64) error {
	k := tr.settings
	switch {
	case tr.h == nil && at.Buffers != nil: // evaluation mode with the running statistics of this point
		net, err := tr.net.WithBuffers(at.Buffers)
		if err != nil {
			return fmt.Errorf("curvature.track: %w", err)
		}
		tr.h = nn.NewHessian(net, theta, tr.set.X, tr.set.Y, tr.rows)
	case tr.h == nil:
		tr.h = nn.NewHessian(tr.net, theta, tr.set.X, tr.set.Y, tr.rows)
	case at.Buffers != nil:
		tr.h.ResetBuffers(theta, at.Buffers)
	default:
		tr.h.Reset(theta)
	}
	h := tr.h
	p := h.Dim()
	if tr.start == nil {
		tr.start = make([]float64, p)
		curvature.RandomUnit(tr.start, tr.rng)
	}
	pt := spec.SharpnessPoint{Epoch: at.Epoch, Step: at.Step, LR: at.LR, StabilityLimit: spec.StabilityLimit(tr.opt, at.LR)}
	if k.TopK >= 2 {
		r, err := curvature.LanczosTopK(ctx, p, h.Apply, tr.start, curvature.TopKSettings{
			K: min(k.TopK, p), Steps: max(k.LanczosSteps, k.TopK), Tol: k.Tol, Which: curvature.LargestAlgebraic,
			Vectors: true, Restart: tr.rng,
		})
		if err != nil {
			return fmt.Errorf("curvature.track: top_k: %w", err)
		}
		top := r.Eigen[0]
		pt.LambdaMax, pt.LambdaResidual, pt.LambdaConverged = top.Value, top.Residual, top.Converged
		for _, e := range r.Eigen {
			pt.TopK = append(pt.TopK, e.Value)
		}
		copy(tr.start, top.Vector)
	} else {
		eig, err := curvature.Lanczos(ctx, p, h.Apply, tr.start, curvature.Settings{
			Steps: k.LanczosSteps, Tol: k.Tol, Which: curvature.LargestAlgebraic, Work: &tr.work,
		})
		if err != nil {
			return fmt.Errorf("curvature.track: %w", err)
		}
		pt.LambdaMax, pt.LambdaResidual, pt.LambdaConverged = eig.Value, eig.Residual, eig.Converged
		copy(tr.start, eig.Vector)
	}
	if k.TraceProbes > 0 {
		est, err := curvature.Hutchinson(ctx, p, h.Apply, tr.rng, curvature.TraceSettings{Budget: k.TraceProbes})
		if err != nil {
			return fmt.Errorf("curvature.track: trace: %w", err)
		}
		pt.Trace = est.Trace
	}
	pt.HVPs = h.Products()
	tr.points = append(tr.points, pt)
	return nil
}
