package wire

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/flatsweep/flatsweep/spec"
)

// TestResultRoundTrip: every field of a result survives the protobuf
// message, the warm-start digest included.
func TestResultRoundTrip(t *testing.T) {
	in := spec.Result{
		TrainLoss: 0.1, TrainAcc: 0.9, TestLoss: 0.3, TestAcc: 0.8, Diverged: true,
		LambdaMax: 12.5, LambdaResidual: 1e-4, LambdaConverged: true, HVPs: 17, Params: 1234,
		Curve:    []spec.EpochMetrics{{Epoch: 1, TrainLoss: 1, TrainAcc: 0.5, TestLoss: 1.1, TestAcc: 0.45, Step: 64, LR: 0.1, BatchSize: 32}},
		Steps:    640,
		Measures: map[string]float64{"trace": 42, "keskar_sharpness": 1.5},
		Density:  &spec.SpectralDensity{Params: 1234, Nodes: [][]float64{{1, 2}, {3}}, Weights: [][]float64{{0.5, 0.5}, {1}}},

		WarmStartSHA256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
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

// fill sets every field of v (recursively) to a non-zero value that depends
// on the field's position, so that a field a conversion drops shows up.
func fill(v reflect.Value, seed *int) {
	*seed++
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), seed)
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), seed)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(v.Index(i), seed)
		}
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, seed)
		fill(e, seed)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(*seed))
	case reflect.Uint8:
		v.SetUint(uint64(*seed % 256))
	case reflect.Float64:
		v.SetFloat(float64(*seed) + 0.5)
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", *seed))
	default:
		panic("fill: unsupported kind " + v.Kind().String())
	}
}

// TestResultRoundTripEveryField: a result with every field (and every field
// of its curve and density) set survives the protobuf message, so no field
// of spec.Result is dropped between the worker and the store, now or when
// one is added.
func TestResultRoundTripEveryField(t *testing.T) {
	var in spec.Result
	seed := 0
	fill(reflect.ValueOf(&in).Elem(), &seed)
	out := ResultFromProto(ResultToProto(in, time.Second))
	if !reflect.DeepEqual(*out, in) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", *out, in)
	}
}
