package sweeps

import (
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// TestPartialBatchNote: the note names each (N, B) whose partial last batch
// is at least a tenth of N, once, with its updates and the examples left
// out, and is empty when none is.
func TestPartialBatchNote(t *testing.T) {
	trial := func(n, b int) Trial {
		return Trial{Spec: spec.Trial{Dataset: spec.Dataset{N: n}, BatchSize: b}}
	}
	if s, d := StepsPerEpoch(trial(4000, 2048)); s != 1 || d != 1952 {
		t.Errorf("N 4000, B 2048: %d steps, %d dropped", s, d)
	}
	note := PartialBatchNote([]Trial{trial(4000, 2048), trial(4000, 2048), trial(4000, 128), trial(4000, 4000), trial(1000, 300)})
	if strings.Count(note, "batch_size 2048 with n 4000 takes 1 update(s) per epoch and leaves 1952 examples out") != 1 ||
		!strings.Contains(note, "batch_size 300 with n 1000 takes 3 update(s) per epoch and leaves 100 examples") || strings.Contains(note, "batch_size 128") {
		t.Errorf("note: %q", note)
	}
	if note := PartialBatchNote([]Trial{trial(4000, 128), trial(4000, 1000)}); note != "" {
		t.Errorf("note without large partial batches: %q", note)
	}
}
