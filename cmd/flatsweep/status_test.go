package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// TestStatusShowsFailureReasons: status says, per sweep, why its trials
// failed, input errors marked as such.
func TestStatusShowsFailureReasons(t *testing.T) {
	sw := &pb.Sweep{Id: "s", TrialCount: 4, StateCounts: map[string]int32{"succeeded": 1, "discarded": 3},
		Failures: []*pb.FailureReason{
			{State: "discarded", Reason: "dataset: d/train-images-idx3-ubyte: data: malformed data file: magic number 0\nmore detail", Trials: 2, Permanent: true, ExampleTrialId: "t-1"},
			{State: "discarded", Reason: "panic: boom", Trials: 1, ExampleTrialId: "t-2"},
		}}
	var b bytes.Buffer
	if err := writeStatus(&b, []*pb.Sweep{sw}, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"s: failed trials, by reason:",
		"2  discarded  input error  dataset: d/train-images-idx3-ubyte: data: malformed data file: magic number 0 …",
		"1  discarded  retryable    panic: boom",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
}
