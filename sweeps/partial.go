package sweeps

import (
	"fmt"
	"strings"
)

// DroppedFraction is the share of the training set a trial may leave out of
// every epoch (the partial last batch, see package train) before
// PartialBatchNote mentions it.
const DroppedFraction = 0.1

// StepsPerEpoch returns the updates of a trial's first epoch and the
// examples the epoch leaves out (spec.Trial.UpdatesPerEpoch at its batch
// size): by default training drops the partial last batch so that every
// update averages exactly B examples.
func StepsPerEpoch(t Trial) (steps, dropped int) {
	return t.Spec.UpdatesPerEpoch(t.Spec.BatchSize)
}

// PartialBatchNote returns a sentence naming the batch sizes whose trials
// leave out at least DroppedFraction of their training set in every epoch
// (such as B = 2048 with N = 4,000: one update per epoch, 1,952 examples
// unused), or "" when none does.
func PartialBatchNote(trials []Trial) string {
	type nb struct{ n, b int }
	var parts []string
	seen := map[nb]bool{}
	for _, t := range trials {
		steps, dropped := StepsPerEpoch(t)
		k := nb{t.Spec.Dataset.N, t.Spec.BatchSize}
		if steps == 0 || seen[k] || float64(dropped) < DroppedFraction*float64(k.n) {
			continue
		}
		seen[k] = true
		parts = append(parts, fmt.Sprintf("batch_size %d with n %d takes %d update(s) per epoch and leaves %d examples out of each", k.b, k.n, steps, dropped))
	}
	if len(parts) == 0 {
		return ""
	}
	return "note: " + strings.Join(parts, "; ") + ` (the partial last batch is dropped, so that every update averages B examples; train.partial_batch: keep makes it an update)`
}
