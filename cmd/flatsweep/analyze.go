package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/flatsweep/flatsweep/analysis"
)

func newAnalyzeCmd() *cobra.Command {
	var (
		src    sourceFlags
		filter filterFlags
		format string
	)
	cmd := &cobra.Command{
		Use:   "analyze SWEEP",
		Short: "Print a sweep's noise-scale and flatness analysis: grid means, B_opt and its scaling, collapse, Kendall τ",
		Long: `analyze prints the numbers of a sweep's analysis: every metric per grid point
(mean, std, 95 % interval over seeds); the optimal batch size B_opt of test
accuracy per (ε, N, m) and its log–log fits against ε, N and 1/(1 − m) (Smith &
Le predict slope 1); whether test accuracy collapses onto g = ε(N/B − 1)/(1 − m);
and, for every flatness measure, Kendall's τ with the gap and with test accuracy
and Jiang et al.'s granulated Ψ, with bootstrap intervals and the worst case
over environments (pairs of grid points differing in one hyperparameter).
Diverged, not-fitted, failed and unfinished trials are counted, never dropped
silently; a degenerate sweep is explained, not an error.

A number is printed only with the data it needs, with its 95 % interval, and
"not enough data" with the counts otherwise: a slope of B_opt needs two residual
degrees of freedom (four interior optima along one axis), optima at the edge of
the batch-size grid are marked and left out of slopes, the collapse test needs
two settings of (ε, N, m) whose ranges of g overlap, and τ needs five trials.
Test-accuracy intervals combine the seeds with the test set's binomial error
(docs/SCIENCE.md, section 12). g is given for SGD only.

The trials come from a coordinator (--coordinator) or, offline, from a copy of
its database file (--db PATH, opened read-only; a running coordinator holds an
exclusive lock on its own file, so copy it first).

` + filterHelp + `
The analysis says which trials the filters left out.`,
		Example: `  flatsweep analyze quickstart --db sweep.db
  flatsweep analyze quickstart --db sweep.db --exclude lr=2 --format json`,
		Args: exactArgs(1, "one sweep name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			write, err := analysisWriter(format)
			if err != nil {
				return err
			}
			if _, err := filter.parse(); err != nil {
				return err
			}
			if format == "json" && src.db == "" && !filter.set() {
				// The coordinator runs the analysis itself (AnalyzeSweep).
				return src.serverAnalysis(cmd, args[0])
			}
			recs, err := src.records(cmd, args[0])
			if err != nil {
				return err
			}
			all := len(recs)
			if recs, err = filter.apply(recs); err != nil {
				return err
			}
			a := analysis.Analyze(args[0], analysis.PointsFromRecords(recs))
			a.NoteSelection(filter.describe(), all-len(recs), all)
			return write(cmd.OutOrStdout(), a)
		},
	}
	addSourceFlags(cmd, &src)
	addFilterFlags(cmd, &filter)
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}

// analysisWriter returns the writer for an analyze --format value.
func analysisWriter(format string) (func(io.Writer, analysis.SweepAnalysis) error, error) {
	switch format {
	case "table":
		return analysis.WriteAnalysisTable, nil
	case "json":
		return analysis.WriteAnalysisJSON, nil
	}
	return nil, usagef("--format: want table or json, got %q", format)
}
