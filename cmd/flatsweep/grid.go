package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/flatsweep/flatsweep/results"
	"github.com/flatsweep/flatsweep/spec"
	"github.com/flatsweep/flatsweep/sweeps"
)

func newGridCmd() *cobra.Command {
	var (
		format string
		over   sweeps.Overrides
	)
	cmd := &cobra.Command{
		Use:   "grid SWEEP.yaml",
		Short: "List a sweep file's trials: index, trial ID and grid point, without running anything",
		Long: `grid expands a sweep file as run and submit do and lists its trials in
expansion order (the first axis varies slowest): the 0-based index that
train --trial takes, the trial ID (the content hash of the trial's spec,
which every stored result carries), the trial's value on each swept axis
(field axes, linked axes and random draws named by their paths, values as
in a sweep file: [512,512], adam, {kind:step,milestones:[10],gamma:0.1}),
and the updates of its first epoch with the examples the epoch leaves out
(training drops the partial last batch, N mod B examples, so that every
update averages B examples). A note on stderr names the batch sizes that
leave out a tenth of the training set or more.`,
		Example: `  flatsweep grid sweeps/quickstart.yaml
  flatsweep grid sweeps/random-search.yaml          # random search: drawn values are columns too
  flatsweep train sweeps/quickstart.yaml --trial 3 --out model/   # the fourth trial listed`,
		Args: exactArgs(1, "one sweep file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, _, err := loadSweep(args[0], over)
			if err != nil {
				return err
			}
			trials := sweeps.Expand(s)
			out := cmd.OutOrStdout()
			if note := sweeps.PartialBatchNote(trials); note != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), note)
			}
			switch format {
			case "table":
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				head := "INDEX\tTRIAL"
				if len(trials) > 0 {
					for _, c := range trials[0].Point {
						head += "\t" + c.Axis
					}
				}
				fmt.Fprintln(tw, head+"\tSTEPS/EPOCH\tDROPPED")
				for _, t := range trials {
					line := fmt.Sprintf("%d\t%s", t.Index, t.ID)
					for _, c := range t.Point {
						line += "\t" + shownValue(t.Spec, c)
					}
					steps, dropped := sweeps.StepsPerEpoch(t)
					fmt.Fprintf(tw, "%s\t%d\t%d\n", line, steps, dropped)
				}
				return tw.Flush()
			case "jsonl":
				enc := json.NewEncoder(out)
				for _, t := range trials {
					point := map[string]json.RawMessage{}
					for _, c := range t.Point {
						point[c.Axis] = json.RawMessage(c.Value)
					}
					steps, dropped := sweeps.StepsPerEpoch(t)
					if err := enc.Encode(struct {
						Index         int                        `json:"index"`
						ID            string                     `json:"trial"`
						Point         map[string]json.RawMessage `json:"point"`
						StepsPerEpoch int                        `json:"steps_per_epoch"`
						Dropped       int                        `json:"dropped"`
					}{t.Index, t.ID, point, steps, dropped}); err != nil {
						return err
					}
				}
				return nil
			}
			return usagef("--format: want table or jsonl, got %q", format)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or jsonl")
	addOverrideFlags(cmd, &over)
	return cmd
}

// shownValue renders a trial's value on an axis for the table
// (results.ShowValue), a default left out of the spec ("" or {} for the
// optimizer, the loss, a schedule, …) as the value it stands for ("sgd",
// "ce", {kind: constant}, …).
func shownValue(t spec.Trial, c spec.Coordinate) string {
	if c.Value == `""` || c.Value == "{}" {
		path, ok := spec.AxisPath(c.Axis)
		if !ok {
			path = c.Axis
		}
		if v, err := spec.GetJSON(t.WithDefaults(), path); err == nil && v != c.Value {
			return results.ShowValue(v)
		}
	}
	return results.ShowValue(c.Value)
}
