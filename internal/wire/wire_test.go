package wire

import (
	"reflect"
	"testing"
	"time"

	"github.com/flatsweep/flatsweep/compute"
)

func TestResultRoundTrip(t *testing.T) {
	in := compute.Result{
		TrainLoss: 0.1, TrainAcc: 0.9, TestLoss: 0.3, TestAcc: 0.8, Diverged: true,
		LambdaMax: 12.5, LambdaResidual: 1e-4, LambdaConverged: true, HVPs: 17, Params: 1234,
		Curve:    []compute.EpochMetrics{{Epoch: 1, TrainLoss: 1, TrainAcc: 0.5, TestLoss: 1.1, TestAcc: 0.45, Step: 64, LR: 0.1, BatchSize: 32}},
		Steps:    640,
		Measures: map[string]float64{"trace": 42, "keskar_sharpness": 1.5},
		Density:  &compute.SpectralDensity{Params: 1234, Nodes: [][]float64{{1, 2}, {3}}, Weights: [][]float64{{0.5, 0.5}, {1}}},
	}
	p := ResultToProto(in, 1500*time.Millisecond)
	if p.DurationSeconds != 1.5 {
		t.Fatalf("duration %v", p.DurationSeconds)
	}
	out := ResultFromProto(p)
	if !reflect.DeepEqual(*out, in) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", *out, in)
	}
	if ResultFromProto(nil) != nil {
		t.Fatal("nil result should convert to nil")
	}
}

func TestDecodeSpecRejectsUnknownFields(t *testing.T) {
	if _, err := DecodeSpec(`{"batch_size": 8, "mystery": 1}`); err == nil {
		t.Fatal("unknown field accepted")
	}
	s, err := DecodeSpec(`{"batch_size": 8, "lr": 0.5}`)
	if err != nil || s.BatchSize != 8 || s.LR != 0.5 {
		t.Fatalf("decode: %+v %v", s, err)
	}
}
