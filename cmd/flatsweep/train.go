package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/flatsweep/flatsweep/compute"
	"github.com/flatsweep/flatsweep/spec"
	"github.com/flatsweep/flatsweep/sweeps"
)

// Files written by `flatsweep train` into --out.
const (
	trainWeightsFile = "weights.safetensors"
	trainResultFile  = "result.json"
	trainTrialFile   = "trial.json"
)

func newTrainCmd() *cobra.Command {
	var (
		out  string
		pick string
		over sweeps.Overrides
	)
	cmd := &cobra.Command{
		Use:   "train SWEEP.yaml --out DIR",
		Short: "Run one trial on this machine, without a cluster, and keep its weights",
		Long: `train runs one trial of a sweep file in this process (no coordinator, no
workers) and writes to --out:

  weights.safetensors  the trained parameters (safetensors, F64, under the
                       state_dict names of the equivalent PyTorch module:
                       mlp, resmlp and cnn alike; with train.swa the averaged
                       parameters)
  result.json          the trial's result: final metrics, per-epoch curve, λ₁,
                       and λ₁ along training or the loss landscape when the
                       spec's curvature section asks for them
  trial.json           the trial's ID, grid point and complete spec

The sweep file is the same YAML as for run and submit. Its grid should have
exactly one point (one batch size, learning rate and seed); for a larger grid
pick the trial with --trial, by its index (0-based, in expansion order) or its
trial ID, as flatsweep grid lists them. A warm-start file
is hashed and its SHA-256 recorded in the spec. Per-epoch progress goes to
stderr. Bad input (flags, the sweep file, an invalid trial) exits with status 2.`,
		Example: `  flatsweep train sweeps/quickstart.yaml --trial 0 --out model/
  flatsweep grid sweeps/quickstart.yaml                # which index is which point
  flatsweep hessian --weights model/weights.safetensors`,
		Args: exactArgs(1, "one sweep file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usagef("--out: a directory for the weights and the result is required")
			}
			trial, err := pickTrial(args[0], pick, over)
			if err != nil {
				return err
			}
			if trial.Spec.IsCommand() {
				return usagef("%s: its trials run a command (command.argv); train runs flatsweep's own trainer: run the sweep with `flatsweep run %s` or on workers, or run the program yourself", args[0], args[0])
			}
			return trainTrial(cmd, trial, out)
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory to write weights.safetensors, result.json and trial.json to (created if missing)")
	cmd.Flags().StringVar(&pick, "trial", "", "the trial to run when the grid has several: its index (0-based, expansion order) or trial ID, as flatsweep grid lists them")
	addOverrideFlags(cmd, &over)
	return cmd
}

// pickTrial loads the sweep file and returns the trial to run: the one
// named by pick (an index or a trial ID), or the grid's only trial.
func pickTrial(path, pick string, o sweeps.Overrides) (sweeps.Trial, error) {
	s, _, err := loadSweep(path, o)
	if err != nil {
		return sweeps.Trial{}, err
	}
	trials := sweeps.Expand(s)
	if pick == "" {
		if len(trials) != 1 {
			return sweeps.Trial{}, usagef("%s: the grid has %d trials and train runs one: give --trial with an index (0…%d) or a trial ID; `flatsweep grid %s` lists them (first: %s)",
				path, len(trials), len(trials)-1, path, describeTrial(trials[0]))
		}
		return trials[0], nil
	}
	if i, err := strconv.Atoi(pick); err == nil {
		if i < 0 || i >= len(trials) {
			return sweeps.Trial{}, usagef("--trial %d: not an index of %s, which has trials 0…%d (`flatsweep grid %s` lists them)", i, path, len(trials)-1, path)
		}
		return trials[i], nil
	}
	for _, t := range trials {
		if t.ID == pick {
			return t, nil
		}
	}
	return sweeps.Trial{}, usagef("--trial %q: want an index (0…%d) or the ID of a trial of %s; `flatsweep grid %s` lists them", pick, len(trials)-1, path, path)
}

// describeTrial names a trial by index, ID and point.
func describeTrial(t sweeps.Trial) string {
	return fmt.Sprintf("%d = %s, %s", t.Index, t.ID, t.Point)
}

// trainTrial runs the trial and writes its outputs to dir.
func trainTrial(cmd *cobra.Command, trial sweeps.Trial, dir string) error {
	progress := cmd.ErrOrStderr()
	fmt.Fprintf(progress, "trial %s (%s)\n", trial.ID, trial.Point)
	res, trained, err := compute.Run(cmd.Context(), trial.Spec, func(m spec.EpochMetrics) {
		fmt.Fprintf(progress, "epoch %3d  step %6d  train loss %.4f acc %.4f  test loss %.4f acc %.4f\n",
			m.Epoch, m.Step, m.TrainLoss, m.TrainAcc, m.TestLoss, m.TestAcc)
	})
	if compute.IsInputError(err) {
		return usageError{fmt.Errorf("trial %s: %w", trial.ID, err)}
	}
	if err != nil {
		return fmt.Errorf("trial %s: %w", trial.ID, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	specJSON, err := spec.Canonical(trial.Spec)
	if err != nil {
		return fmt.Errorf("trial %s: %w", trial.ID, err)
	}
	meta := map[string]string{"flatsweep.trial_id": trial.ID, "flatsweep.spec": string(specJSON)}
	if err := writeFile(filepath.Join(dir, trainWeightsFile), func(w io.Writer) error {
		return compute.WriteWeights(w, trained.Net, trained.Theta, meta)
	}); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, trainResultFile), res); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, trainTrialFile), trial); err != nil {
		return err
	}
	status := "done"
	if res.Diverged {
		status = "diverged"
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s: train acc %.4f, test acc %.4f, λ₁ %.4g (%d parameters, %d steps); wrote %s\n",
		status, res.TrainAcc, res.TestAcc, res.LambdaMax, res.Params, res.Steps, dir)
	return nil
}

// writeFile writes path through write, replacing it atomically.
func writeFile(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// writeJSON writes v as indented JSON to path.
func writeJSON(path string, v any) error {
	return writeFile(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	})
}
