package lease

import (
	"errors"
	"math"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// FuzzValidateResult feeds arbitrary wire bytes, decoded as a TrialResult
// the way a CompleteTrial request carries it, to the validation: it never
// panics, fails only with ErrInvalid, and a result it accepts has the
// properties the results engine relies on.
func FuzzValidateResult(f *testing.F) {
	good := &pb.TrialResult{TrainLoss: 0.1, TrainAcc: 0.9, TestLoss: 0.3, TestAcc: 0.8, LambdaMax: 4, LambdaResidual: 1e-8,
		Hvps: 21, Params: 100, Steps: 10, DurationSeconds: 2.5, Measures: map[string]float64{"trace": 12},
		Curve:        []*pb.EpochMetrics{{Epoch: 1, TrainLoss: 0.5, TrainAcc: 0.6, TestLoss: 0.6, TestAcc: 0.5, Step: 10, Lr: 0.1, BatchSize: 8}},
		Density:      &pb.SpectralDensity{Params: 100, Runs: []*pb.QuadratureRun{{Nodes: []float64{1, 4}, Weights: []float64{0.5, 0.5}}}},
		Costs:        []*pb.MeasureCost{{Measure: "hessian", Gradients: 1, Seconds: 0.1}, {Measure: "top_k", Hvps: 17, Seconds: 4.5, Residuals: []float64{1e-9, 2e-4}}},
		TrainSeconds: 2, CurvatureSeconds: 0.5, TestCorrect: []byte{0x7f, 0x01}, TestExamples: 10}
	for _, r := range []*pb.TrialResult{good, {}, {TrainLoss: math.NaN()}, {TestAcc: 2}, {Curve: []*pb.EpochMetrics{{Epoch: 2}}},
		{Costs: []*pb.MeasureCost{{Measure: "trace", Seconds: math.Inf(1)}}}, {Costs: []*pb.MeasureCost{{Measure: "", Hvps: -1}}}} {
		b, err := proto.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	lim := Limits{}
	lim.setDefaults()
	lim.MaxCurveEpochs = 64 // small, so that the fuzzer reaches it
	f.Fuzz(func(t *testing.T, b []byte) {
		var r pb.TrialResult
		if proto.Unmarshal(b, &r) != nil {
			return
		}
		err := lim.ValidateResult(&r)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
		for _, x := range []float64{r.TrainLoss, r.TestLoss, r.TrainAcc, r.TestAcc, r.LambdaMax, r.LambdaResidual, r.DurationSeconds,
			r.TrainSeconds, r.CurvatureSeconds} {
			if !finite(x) {
				t.Fatalf("accepted a result with %v", x)
			}
		}
		if r.TrainAcc < 0 || r.TrainAcc > 1 || r.TestAcc < 0 || r.TestAcc > 1 || r.TrainLoss < 0 || r.TestLoss < 0 {
			t.Fatalf("accepted accuracies %v, %v and losses %v, %v", r.TrainAcc, r.TestAcc, r.TrainLoss, r.TestLoss)
		}
		if len(r.Curve) > lim.MaxCurveEpochs {
			t.Fatalf("accepted a curve of %d epochs", len(r.Curve))
		}
		for i, m := range r.Curve {
			if m.Epoch < 1 || (i > 0 && m.Epoch <= r.Curve[i-1].Epoch) || !finite(m.TrainLoss) || !finite(m.TestAcc) || m.TestAcc < 0 || m.TestAcc > 1 {
				t.Fatalf("accepted curve entry %d: %v", i, m)
			}
		}
		for k, v := range r.Measures {
			if !finite(v) || k == "" {
				t.Fatalf("accepted measure %q = %v", k, v)
			}
		}
		if r.TrainSeconds < 0 || r.CurvatureSeconds < 0 || len(r.Costs) > lim.MaxMeasures {
			t.Fatalf("accepted seconds %v, %v and %d costs", r.TrainSeconds, r.CurvatureSeconds, len(r.Costs))
		}
		for _, c := range r.Costs {
			if c.Measure == "" || c.Hvps < 0 || c.Gradients < 0 || c.Losses < 0 || !finite(c.Seconds) || c.Seconds < 0 {
				t.Fatalf("accepted cost %v", c)
			}
			for _, v := range c.Residuals {
				if !finite(v) || v < 0 {
					t.Fatalf("accepted cost %v", c)
				}
			}
		}
	})
}

// FuzzValidateEpochs: a heartbeat's epochs, as decoded from the wire, are
// accepted only when valid and within the curve limit.
func FuzzValidateEpochs(f *testing.F) {
	seed, _ := proto.Marshal(&pb.HeartbeatRequest{NewMetrics: []*pb.EpochMetrics{{Epoch: 1, TrainAcc: 0.5}, {Epoch: 2, TestLoss: 1}}})
	f.Add(seed, 0)
	f.Add(seed, 63)
	lim := Limits{}
	lim.setDefaults()
	lim.MaxCurveEpochs = 64
	f.Fuzz(func(t *testing.T, b []byte, stored int) {
		var req pb.HeartbeatRequest
		if proto.Unmarshal(b, &req) != nil || stored < 0 || stored > lim.MaxCurveEpochs {
			return
		}
		if err := lim.ValidateEpochs(req.NewMetrics, stored); err == nil {
			if stored+len(req.NewMetrics) > lim.MaxCurveEpochs {
				t.Fatalf("accepted %d epochs onto %d", len(req.NewMetrics), stored)
			}
			for i, m := range req.NewMetrics {
				if m.Epoch < 1 || (i > 0 && m.Epoch <= req.NewMetrics[i-1].Epoch) || math.IsNaN(m.TrainLoss) || m.TrainAcc > 1 {
					t.Fatalf("accepted epoch %d: %v", i, m)
				}
			}
		} else if !errors.Is(err, ErrInvalid) {
			t.Fatalf("error %v does not wrap ErrInvalid", err)
		}
	})
}
