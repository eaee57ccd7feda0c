package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/flatsweep/flatsweep/internal/wire"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
)

// Simulation replaces training by a timed sleep, for benchmarks of the
// coordinator: a simulated trial of spec t holds its lease, heartbeats and
// reports like a real one, for
//
//	d(t) = PerTrial + PerUpdate·u(t),
//
// where u(t) is the trial's number of parameter updates (its step budget, or
// epochs·UpdatesPerEpoch(B)), so that costs can vary across a sweep as
// training's do (a small batch size means many updates). Its result carries
// pb.TrialResult.simulated and no measurement: every loss, accuracy and
// curvature is zero; only steps (u) and params are filled in. A simulated
// worker registers with the label wire.SimulatedLabel, and a coordinator
// refuses it unless started with --accept-simulated, so that simulated
// results cannot enter a research database by mistake.
type Simulation struct {
	// PerTrial is the fixed part of each trial's duration.
	PerTrial time.Duration
	// PerUpdate is the duration of one parameter update.
	PerUpdate time.Duration
}

// Duration returns the simulated duration of trial t.
func (s Simulation) Duration(t spec.Trial) time.Duration {
	return s.PerTrial + time.Duration(updates(t))*s.PerUpdate
}

// updates returns a trial's number of parameter updates: its step budget,
// or epochs times the updates of an epoch at its batch size.
func updates(t spec.Trial) int {
	if t.Steps > 0 {
		return t.Steps
	}
	per, _ := t.UpdatesPerEpoch(t.BatchSize)
	return t.Epochs * per
}

// Run is a RunFunc that sleeps for Duration(t) (or until ctx ends) and
// returns a result with only the steps and parameter count set.
func (s Simulation) Run(ctx context.Context, t spec.Trial, _ func(spec.EpochMetrics)) (spec.Result, error) {
	if err := sleep(ctx, s.Duration(t)); err != nil {
		return spec.Result{}, fmt.Errorf("simulated trial: %w", err)
	}
	res := spec.Result{Steps: updates(t)}
	if a, err := t.Architecture(); err == nil {
		res.Params = a.Params
	}
	return res, nil
}

// simulate sets a worker configuration up for simulated trials when
// cfg.Simulate is set: the simulation runs the trials, and the worker
// registers with wire.SimulatedLabel.
func (cfg *Config) simulate() {
	if cfg.Simulate == nil {
		return
	}
	cfg.Run = cfg.Simulate.Run
	labels := make(map[string]string, len(cfg.Labels)+1)
	for k, v := range cfg.Labels {
		labels[k] = v
	}
	labels[wire.SimulatedLabel] = "true"
	cfg.Labels = labels
}

// resultToProto converts a finished trial's result for its report, marking
// it simulated when the worker simulates.
func (w *Worker) resultToProto(res spec.Result, elapsed time.Duration) *pb.TrialResult {
	p := wire.ResultToProto(res, elapsed)
	p.Simulated = w.cfg.Simulate != nil
	return p
}
