package analysis

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"text/tabwriter"
)

// WriteTable writes rows as an aligned text table, one line per grid point:
//
//	N     B   lr    g      seeds  train_acc        test_acc         gap              lambda_max     diverged  failed  unfinished
//	1024  16  0.05  3.15   2      0.9512 ± 0.0031  …
//
// Accuracies and gaps are printed as "mean ± std" with 4 decimals, g and λ₁
// with 4 significant digits; "-" marks a measure with no finite value, and
// "(n=k)" a measure finite for only k of the seeds.
func WriteTable(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "N\tB\tlr\tg\tseeds\ttrain_acc\ttest_acc\tgap\tlambda_max\tdiverged\tfailed\tunfinished")
	for _, r := range rows {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\n",
			r.N, r.BatchSize, strconv.FormatFloat(r.LR, 'g', -1, 64), formatG(r.G), r.Seeds,
			pm(r.TrainAcc, r.Seeds, "%.4f"), pm(r.TestAcc, r.Seeds, "%.4f"), pm(r.Gap, r.Seeds, "%.4f"),
			pm(r.LambdaMax, r.Seeds, "%.4g"), r.Diverged, r.Failed, r.Unfinished)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

func formatG(g float64) string {
	if math.IsNaN(g) {
		return "-"
	}
	return fmt.Sprintf("%.4g", g)
}

// pm formats s as "mean ± std" with the verb format.
func pm(s Stat, seeds int, format string) string {
	if s.N == 0 {
		return "-"
	}
	out := fmt.Sprintf(format+" ± "+format, s.Mean, s.Std)
	if s.N < seeds {
		out += fmt.Sprintf(" (n=%d)", s.N)
	}
	return out
}

// csvMeasures names the Stat columns of WriteCSV, in the order of measures.
func csvMeasures() []string {
	return []string{"train_acc", "test_acc", "train_loss", "test_loss", "gap", "loss_gap", "lambda_max"}
}

// measures returns the Stats of r in the order of csvMeasures.
func measures(r Row) []Stat {
	return []Stat{r.TrainAcc, r.TestAcc, r.TrainLoss, r.TestLoss, r.Gap, r.LossGap, r.LambdaMax}
}

// CSVHeader returns the columns of WriteCSV: n, batch_size, lr, g, trials,
// seeds, diverged, failed, unfinished, then <m>_mean, <m>_std and <m>_n for
// each measure m of train_acc, test_acc, train_loss, test_loss, gap, loss_gap
// and lambda_max.
func CSVHeader() []string {
	h := []string{"n", "batch_size", "lr", "g", "trials", "seeds", "diverged", "failed", "unfinished"}
	for _, m := range csvMeasures() {
		h = append(h, m+"_mean", m+"_std", m+"_n")
	}
	return h
}

// WriteCSV writes rows as CSV with the columns of CSVHeader. Floats are written
// in shortest round-trip form; a NaN (no finite value) is an empty cell.
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader()); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	for _, r := range rows {
		rec := []string{
			strconv.Itoa(r.N), strconv.Itoa(r.BatchSize), ftoa(r.LR), ftoa(r.G),
			strconv.Itoa(r.Trials), strconv.Itoa(r.Seeds),
			strconv.Itoa(r.Diverged), strconv.Itoa(r.Failed), strconv.Itoa(r.Unfinished),
		}
		for _, s := range measures(r) {
			rec = append(rec, ftoa(s.Mean), ftoa(s.Std), strconv.Itoa(s.N))
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

func ftoa(x float64) string {
	if math.IsNaN(x) {
		return ""
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// WriteJSON writes rows as an indented JSON array (an empty array for no rows).
// A NaN or infinite value is written as null and read back as NaN.
func WriteJSON(w io.Writer, rows []Row) error {
	if rows == nil {
		rows = []Row{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rows); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// jsonFloat encodes a float, writing NaN and ±Inf as null and reading null as
// NaN.
type jsonFloat float64

// MarshalJSON implements json.Marshaler.
func (f jsonFloat) MarshalJSON() ([]byte, error) {
	x := float64(f)
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(x)
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = jsonFloat(math.NaN())
		return nil
	}
	var x float64
	if err := json.Unmarshal(b, &x); err != nil {
		return err
	}
	*f = jsonFloat(x)
	return nil
}

type statJSON struct {
	Mean jsonFloat `json:"mean"`
	Std  jsonFloat `json:"std"`
	N    int       `json:"n"`
}

// MarshalJSON encodes s as {"mean": …, "std": …, "n": …}, with null for a
// NaN or infinite mean or std.
func (s Stat) MarshalJSON() ([]byte, error) {
	return json.Marshal(statJSON{jsonFloat(s.Mean), jsonFloat(s.Std), s.N})
}

// UnmarshalJSON decodes the form written by MarshalJSON, null as NaN.
func (s *Stat) UnmarshalJSON(b []byte) error {
	var v statJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = Stat{float64(v.Mean), float64(v.Std), v.N}
	return nil
}

// rowAlias has Row's fields without its methods.
type rowAlias Row

// rowJSON overrides Row's float fields that may be NaN.
type rowJSON struct {
	*rowAlias
	LR jsonFloat `json:"lr"`
	G  jsonFloat `json:"g"`
}

// MarshalJSON encodes r with its JSON field names, writing a NaN or infinite
// lr or g as null.
func (r Row) MarshalJSON() ([]byte, error) {
	return json.Marshal(rowJSON{(*rowAlias)(&r), jsonFloat(r.LR), jsonFloat(r.G)})
}

// UnmarshalJSON decodes the form written by MarshalJSON, null as NaN.
func (r *Row) UnmarshalJSON(b []byte) error {
	v := rowJSON{rowAlias: (*rowAlias)(r)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	r.LR, r.G = float64(v.LR), float64(v.G)
	return nil
}
