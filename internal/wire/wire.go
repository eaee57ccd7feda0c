// Package wire converts between the compute package's trial types and their
// protobuf messages, so that compute itself never depends on gRPC.
package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/flatsweep/flatsweep/compute"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// EpochToProto converts one epoch's metrics.
func EpochToProto(m compute.EpochMetrics) *pb.EpochMetrics {
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
func EpochFromProto(m *pb.EpochMetrics) compute.EpochMetrics {
	return compute.EpochMetrics{
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
func CurveToProto(c []compute.EpochMetrics) []*pb.EpochMetrics {
	out := make([]*pb.EpochMetrics, len(c))
	for i, m := range c {
		out[i] = EpochToProto(m)
	}
	return out
}

// CurveFromProto converts a training curve back.
func CurveFromProto(c []*pb.EpochMetrics) []compute.EpochMetrics {
	out := make([]compute.EpochMetrics, len(c))
	for i, m := range c {
		out[i] = EpochFromProto(m)
	}
	return out
}

// ResultToProto converts a trial result; d is the trial's wall-clock duration.
func ResultToProto(r compute.Result, d time.Duration) *pb.TrialResult {
	return &pb.TrialResult{
		TrainLoss:       r.TrainLoss,
		TrainAcc:        r.TrainAcc,
		TestLoss:        r.TestLoss,
		TestAcc:         r.TestAcc,
		Diverged:        r.Diverged,
		LambdaMax:       r.LambdaMax,
		LambdaResidual:  r.LambdaResidual,
		LambdaConverged: r.LambdaConverged,
		Hvps:            int64(r.HVPs),
		Params:          int64(r.Params),
		Curve:           CurveToProto(r.Curve),
		DurationSeconds: d.Seconds(),
		Measures:        r.Measures,
		Steps:           int64(r.Steps),
		Density:         densityToProto(r.Density),
	}
}

func densityToProto(d *compute.SpectralDensity) *pb.SpectralDensity {
	if d == nil {
		return nil
	}
	out := &pb.SpectralDensity{Params: int64(d.Params)}
	for i := range d.Nodes {
		out.Runs = append(out.Runs, &pb.QuadratureRun{Nodes: d.Nodes[i], Weights: d.Weights[i]})
	}
	return out
}

func densityFromProto(d *pb.SpectralDensity) *compute.SpectralDensity {
	if d == nil {
		return nil
	}
	out := &compute.SpectralDensity{Params: int(d.Params)}
	for _, r := range d.Runs {
		out.Nodes = append(out.Nodes, r.Nodes)
		out.Weights = append(out.Weights, r.Weights)
	}
	return out
}

// ResultFromProto converts a trial result back; it returns nil for nil.
func ResultFromProto(r *pb.TrialResult) *compute.Result {
	if r == nil {
		return nil
	}
	return &compute.Result{
		TrainLoss:       r.TrainLoss,
		TrainAcc:        r.TrainAcc,
		TestLoss:        r.TestLoss,
		TestAcc:         r.TestAcc,
		Diverged:        r.Diverged,
		LambdaMax:       r.LambdaMax,
		LambdaResidual:  r.LambdaResidual,
		LambdaConverged: r.LambdaConverged,
		HVPs:            int(r.Hvps),
		Params:          int(r.Params),
		Curve:           CurveFromProto(r.Curve),
		Measures:        r.Measures,
		Steps:           int(r.Steps),
		Density:         densityFromProto(r.Density),
	}
}

// DecodeSpec decodes a trial spec's canonical JSON strictly: a field this
// binary does not know is an error, so an old worker never silently runs a
// different trial than the one submitted.
func DecodeSpec(specJSON string) (compute.TrialSpec, error) {
	var s compute.TrialSpec
	dec := json.NewDecoder(bytes.NewReader([]byte(specJSON)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("decode trial spec: %w", err)
	}
	return s, nil
}
