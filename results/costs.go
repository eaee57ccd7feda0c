package results

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/flatsweep/flatsweep/spec"
)

// Names of the CostRows that are not a spec.MeasureCost entry.
const (
	// CostTraining is training: Result.TrainSeconds, with its minibatch
	// gradients (Result.Gradients).
	CostTraining = "training"
	// CostCurvature is all of the curvature work: Result.CurvatureSeconds.
	CostCurvature = "curvature"
)

// CostRow is the work of one kind summed over a sweep's trials: training,
// the curvature as a whole, or one entry of the results' Costs (the
// Hessian's set-up, λ₁'s run, a measure, the landscape).
type CostRow struct {
	// Name is CostTraining, CostCurvature or a spec.MeasureCost name.
	Name string `json:"name"`
	// Trials is the number of results that recorded it.
	Trials int `json:"trials"`
	// HVPs, Gradients and Losses are the products and evaluations summed
	// over those results, Seconds their wall-clock seconds.
	HVPs      int     `json:"hvps"`
	Gradients int     `json:"gradients"`
	Losses    int     `json:"losses"`
	Seconds   float64 `json:"seconds"`
}

// CostTable sums the costs of results (nil entries and results stored
// before costs were recorded are skipped): first training and the
// curvature as a whole, then one row per cost entry in the order they first
// appear. It shows where a sweep's time went.
func CostTable(rs []*spec.Result) []CostRow {
	train, curv := CostRow{Name: CostTraining}, CostRow{Name: CostCurvature}
	var rows []CostRow
	at := map[string]int{}
	for _, r := range rs {
		if r == nil || r.Costs == nil {
			continue
		}
		train.Trials++
		train.Gradients += r.Gradients
		train.Seconds += r.TrainSeconds
		curv.Trials++
		curv.Seconds += r.CurvatureSeconds
		for _, c := range r.Costs {
			i, ok := at[c.Measure]
			if !ok {
				i = len(rows)
				at[c.Measure] = i
				rows = append(rows, CostRow{Name: c.Measure})
			}
			row := &rows[i]
			row.Trials++
			row.HVPs += c.HVPs
			row.Gradients += c.Gradients
			row.Losses += c.Losses
			row.Seconds += c.Seconds
			curv.HVPs += c.HVPs
			curv.Gradients += c.Gradients
			curv.Losses += c.Losses
		}
	}
	if train.Trials == 0 {
		return nil
	}
	return append([]CostRow{train, curv}, rows...)
}

// CostResults returns the results of records (nil for those without one),
// for CostTable.
func CostResults(recs []Record) []*spec.Result {
	out := make([]*spec.Result, len(recs))
	for i, r := range recs {
		out[i] = r.Result
	}
	return out
}

// CostSeconds returns the trials' time of rows, the share of which each row
// takes: the seconds of training plus those of the curvature as a whole.
func CostSeconds(rows []CostRow) float64 {
	var total float64
	for _, r := range rows {
		if r.Name == CostTraining || r.Name == CostCurvature {
			total += r.Seconds
		}
	}
	return total
}

// WriteCosts writes rows as a table: per row the trials, products,
// gradients, losses, total seconds, seconds per trial and share of the
// trials' time (training plus curvature). It writes a sentence instead
// when there are no rows.
func WriteCosts(w io.Writer, rows []CostRow) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "no result records its costs (results stored before costs were recorded)")
		return err
	}
	total := CostSeconds(rows)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "cost\ttrials\tHVPs\tgradients\tlosses\tseconds\ts/trial\tshare\t")
	for _, r := range rows {
		name := r.Name
		if r.Name != CostTraining && r.Name != CostCurvature {
			name = "  " + name // a part of the curvature
		}
		share := "–"
		if total > 0 {
			share = fmt.Sprintf("%.1f%%", 100*r.Seconds/total)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.2f\t%.3f\t%s\t\n", name, r.Trials, r.HVPs, r.Gradients, r.Losses,
			r.Seconds, r.Seconds/float64(r.Trials), share)
	}
	return tw.Flush()
}
