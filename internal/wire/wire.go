// Package wire converts between the trial types of package spec (results,
// curves, spectral densities) and their protobuf messages, so that neither
// spec nor the engine depends on gRPC. It imports nothing but spec and the
// generated protobuf code.
package wire

import (
	"time"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
)

// EpochToProto converts one epoch's metrics.
func EpochToProto(m spec.EpochMetrics) *pb.EpochMetrics {
	return &pb.EpochMetrics{
		Epoch:     int32(m.Epoch),
		TrainLoss: m.TrainLoss,
		TrainAcc:  m.TrainAcc,
		TestLoss:  m.TestLoss,
		TestAcc:   m.TestAcc,
		Step:      int64(m.Step),
		Lr:        m.LR,
		BatchSize: int32(m.BatchSize),
	}
}

// EpochFromProto converts one epoch's metrics back.
func EpochFromProto(m *pb.EpochMetrics) spec.EpochMetrics {
	return spec.EpochMetrics{
		Epoch:     int(m.GetEpoch()),
		TrainLoss: m.GetTrainLoss(),
		TrainAcc:  m.GetTrainAcc(),
		TestLoss:  m.GetTestLoss(),
		TestAcc:   m.GetTestAcc(),
		Step:      int(m.GetStep()),
		LR:        m.GetLr(),
		BatchSize: int(m.GetBatchSize()),
	}
}

// CurveToProto converts a training curve.
func CurveToProto(c []spec.EpochMetrics) []*pb.EpochMetrics {
	out := make([]*pb.EpochMetrics, len(c))
	for i, m := range c {
		out[i] = EpochToProto(m)
	}
	return out
}

// CurveFromProto converts a training curve back.
func CurveFromProto(c []*pb.EpochMetrics) []spec.EpochMetrics {
	out := make([]spec.EpochMetrics, len(c))
	for i, m := range c {
		out[i] = EpochFromProto(m)
	}
	return out
}

// ResultToProto converts a trial result; d is the trial's wall-clock duration.
func ResultToProto(r spec.Result, d time.Duration) *pb.TrialResult {
	return &pb.TrialResult{
		TrainLoss:         r.TrainLoss,
		TrainAcc:          r.TrainAcc,
		TestLoss:          r.TestLoss,
		TestAcc:           r.TestAcc,
		Diverged:          r.Diverged,
		LambdaMax:         r.LambdaMax,
		LambdaResidual:    r.LambdaResidual,
		LambdaConverged:   r.LambdaConverged,
		Hvps:              int64(r.HVPs),
		Params:            int64(r.Params),
		Curve:             CurveToProto(r.Curve),
		DurationSeconds:   d.Seconds(),
		Measures:          r.Measures,
		Steps:             int64(r.Steps),
		Density:           densityToProto(r.Density),
		WarmStartSha256:   r.WarmStartSHA256,
		Gradients:         int64(r.Gradients),
		Sharpness:         sharpnessToProto(r.Sharpness),
		Landscape:         landscapeToProto(r.Landscape),
		TargetReached:     r.TargetReached,
		CurvatureExamples: int64(r.CurvatureExamples),
		CurvatureIndices:  convertInts[int64](r.CurvatureIndices),
		External:          r.External,
		Costs:             costsToProto(r.Costs),
		TrainSeconds:      r.TrainSeconds,
		CurvatureSeconds:  r.CurvatureSeconds,
		TestCorrect:       r.TestCorrect,
		TestExamples:      int64(r.TestExamples),
	}
}

func costsToProto(cs []spec.MeasureCost) []*pb.MeasureCost {
	var out []*pb.MeasureCost
	for _, c := range cs {
		out = append(out, &pb.MeasureCost{Measure: c.Measure, Hvps: int64(c.HVPs), Gradients: int64(c.Gradients),
			Losses: int64(c.Losses), Seconds: c.Seconds, Residuals: c.Residuals})
	}
	return out
}

func costsFromProto(cs []*pb.MeasureCost) []spec.MeasureCost {
	var out []spec.MeasureCost
	for _, c := range cs {
		out = append(out, spec.MeasureCost{Measure: c.Measure, HVPs: int(c.Hvps), Gradients: int(c.Gradients),
			Losses: int(c.Losses), Seconds: c.Seconds, Residuals: c.Residuals})
	}
	return out
}

// convertInts converts an index list between int and int64 (nil stays
// nil).
func convertInts[U, T int | int64](xs []T) []U {
	if xs == nil {
		return nil
	}
	out := make([]U, len(xs))
	for i, x := range xs {
		out[i] = U(x)
	}
	return out
}

func sharpnessToProto(ps []spec.SharpnessPoint) []*pb.SharpnessPoint {
	var out []*pb.SharpnessPoint
	for _, p := range ps {
		out = append(out, &pb.SharpnessPoint{Epoch: int32(p.Epoch), Step: int64(p.Step), Lr: p.LR,
			LambdaMax: p.LambdaMax, LambdaResidual: p.LambdaResidual, LambdaConverged: p.LambdaConverged,
			TopK: p.TopK, Trace: p.Trace, Hvps: int64(p.HVPs), StabilityLimit: p.StabilityLimit})
	}
	return out
}

func sharpnessFromProto(ps []*pb.SharpnessPoint) []spec.SharpnessPoint {
	var out []spec.SharpnessPoint
	for _, p := range ps {
		out = append(out, spec.SharpnessPoint{Epoch: int(p.Epoch), Step: int(p.Step), LR: p.Lr,
			LambdaMax: p.LambdaMax, LambdaResidual: p.LambdaResidual, LambdaConverged: p.LambdaConverged,
			TopK: p.TopK, Trace: p.Trace, HVPs: int(p.Hvps), StabilityLimit: p.StabilityLimit})
	}
	return out
}

func landscapeToProto(l *spec.Landscape) *pb.Landscape {
	if l == nil {
		return nil
	}
	return &pb.Landscape{Kind: l.Kind, A: l.A, B: l.B, TrainLoss: l.TrainLoss, TrainAcc: l.TrainAcc,
		TestLoss: l.TestLoss, TestAcc: l.TestAcc, Examples: int64(l.Examples), TestExamples: int64(l.TestExamples),
		Evaluations: int64(l.Evaluations)}
}

func landscapeFromProto(l *pb.Landscape) *spec.Landscape {
	if l == nil {
		return nil
	}
	return &spec.Landscape{Kind: l.Kind, A: l.A, B: l.B, TrainLoss: l.TrainLoss, TrainAcc: l.TrainAcc,
		TestLoss: l.TestLoss, TestAcc: l.TestAcc, Examples: int(l.Examples), TestExamples: int(l.TestExamples),
		Evaluations: int(l.Evaluations)}
}

func densityToProto(d *spec.SpectralDensity) *pb.SpectralDensity {
	if d == nil {
		return nil
	}
	out := &pb.SpectralDensity{Params: int64(d.Params)}
	for i := range d.Nodes {
		out.Runs = append(out.Runs, &pb.QuadratureRun{Nodes: d.Nodes[i], Weights: d.Weights[i]})
	}
	return out
}

func densityFromProto(d *pb.SpectralDensity) *spec.SpectralDensity {
	if d == nil {
		return nil
	}
	out := &spec.SpectralDensity{Params: int(d.Params)}
	for _, r := range d.Runs {
		out.Nodes = append(out.Nodes, r.Nodes)
		out.Weights = append(out.Weights, r.Weights)
	}
	return out
}

// ResultFromProto converts a trial result back; it returns nil for nil.
func ResultFromProto(r *pb.TrialResult) *spec.Result {
	if r == nil {
		return nil
	}
	return &spec.Result{
		TrainLoss:         r.TrainLoss,
		TrainAcc:          r.TrainAcc,
		TestLoss:          r.TestLoss,
		TestAcc:           r.TestAcc,
		Diverged:          r.Diverged,
		LambdaMax:         r.LambdaMax,
		LambdaResidual:    r.LambdaResidual,
		LambdaConverged:   r.LambdaConverged,
		HVPs:              int(r.Hvps),
		Params:            int(r.Params),
		Curve:             CurveFromProto(r.Curve),
		Measures:          r.Measures,
		Steps:             int(r.Steps),
		Density:           densityFromProto(r.Density),
		WarmStartSHA256:   r.WarmStartSha256,
		Gradients:         int(r.Gradients),
		Sharpness:         sharpnessFromProto(r.Sharpness),
		Landscape:         landscapeFromProto(r.Landscape),
		TargetReached:     r.TargetReached,
		CurvatureExamples: int(r.CurvatureExamples),
		CurvatureIndices:  convertInts[int](r.CurvatureIndices),
		External:          r.GetExternal(),
		Costs:             costsFromProto(r.Costs),
		TrainSeconds:      r.TrainSeconds,
		CurvatureSeconds:  r.CurvatureSeconds,
		TestCorrect:       r.GetTestCorrect(),
		TestExamples:      int(r.GetTestExamples()),
	}
}
