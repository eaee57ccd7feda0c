package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/flatsweep/flatsweep/analysis"
)

func newReportCmd() *cobra.Command {
	var (
		src    sourceFlags
		filter filterFlags
		out    string
	)
	cmd := &cobra.Command{
		Use:   "report SWEEP --out DIR",
		Short: "Write a sweep's report: one self-contained HTML file, Markdown, and every figure as PNG and SVG",
		Long: `report writes to --out DIR the analysis of a sweep (the numbers of
'flatsweep analyze') with its figures: test accuracy against the noise scale g
coloured by ε, with bands of its 95 % interval (against B where g does not
apply, as for Adam); heat maps of test accuracy and λ₁ over B × ε with the best
B of each ε outlined; B_opt against ε and N with the fitted line, its band and
the slope 1 Smith & Le predict; λ₁ and every flatness measure against B and
against the generalization gap; Hessian spectral densities when the trials
carry them; and training curves as seed means with bands. PNGs are drawn at
200 dpi (1260 × 866 pixels), SVGs beside them.

DIR/report.html is self-contained (figures embedded), so the single file can be
copied anywhere; DIR/report.md shows the same with links to the figure files
DIR/<figure>.png and DIR/<figure>.svg. A degenerate sweep (no trials, one grid
point, every trial diverged, missing metrics) gives a report that says so.

Sources as for analyze: --coordinator, or --db PATH (a copy of the database).
` + filterHelp,
		Args: exactArgs(1, "one sweep name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usagef("--out: want an output directory")
			}
			recs, err := src.records(cmd, args[0])
			if err != nil {
				return err
			}
			all := len(recs)
			if recs, err = filter.apply(recs); err != nil {
				return err
			}
			rep := analysis.BuildReport(analysis.PointsFromRecords(recs), analysis.ReportOptions{
				Sweep: args[0], Densities: analysis.DensitiesFromRecords(recs, 3)})
			rep.Analysis.NoteSelection(filter.describe(), all-len(recs), all)
			paths, err := rep.Save(out)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s: %s\n", args[0], rep.Analysis.Counts)
			for _, f := range rep.Figures {
				if f.Err != "" {
					fmt.Fprintf(w, "figure %s not drawn: %s\n", f.Name, f.Err)
				}
			}
			fmt.Fprintf(w, "wrote %d files; open %s\n", len(paths), filepath.Join(out, "report.html"))
			return nil
		},
	}
	addSourceFlags(cmd, &src)
	addFilterFlags(cmd, &filter)
	cmd.Flags().StringVar(&out, "out", "", "output directory (created if needed)")
	return cmd
}
