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

// TestStatusWarnsOfSlots: status warns of an unfinished sweep whose trials
// occupy more slots than any worker that runs commands has, and of no other.
func TestStatusWarnsOfSlots(t *testing.T) {
	sweep := func(id, command string, done int32) *pb.Sweep {
		return &pb.Sweep{Id: id, TrialCount: 2, StateCounts: map[string]int32{"succeeded": done, "pending": 2 - done},
			SpecJson: `{"name": "` + id + `", "command": ` + command + `}`}
	}
	list := []*pb.Sweep{
		sweep("big", `{"argv": ["train"], "slots": 4}`, 0),
		sweep("fits", `{"argv": ["train"], "slots": 2}`, 0),
		sweep("over", `{"argv": ["train"], "slots": 8}`, 2),
	}
	workers := []*pb.Worker{{Id: "w-1", Slots: 2, Commands: true}, {Id: "w-2", Slots: 16}}
	var b bytes.Buffer
	if err := writeStatus(&b, list, workers, time.Now()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, "big: its trials occupy 4 slots each (command.slots), but no worker here that runs commands has that many (most: 2)") {
		t.Errorf("status lacks the warning for big:\n%s", out)
	}
	if strings.Contains(out, "fits:") || strings.Contains(out, "over:") {
		t.Errorf("status warns of a sweep that fits or is finished:\n%s", out)
	}
}
