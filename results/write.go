package results

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// tableMetrics are the metrics the table shows; CSV and JSON carry all.
var tableMetrics = []string{MetricTrainAcc, MetricTestAcc, MetricGap, MetricLambdaMax}

// TableLegend explains the columns of WriteTable.
const TableLegend = `g = ε(N/B − 1)/(1 − m), the SGD noise scale ("-": it does not apply, e.g. Adam);
ok = trials that succeeded without diverging and fit their training set, the ones each cell averages;
not_fitted = trials that missed their train.stop target or ended within 0.05 of chance training accuracy;
gap = train_acc − test_acc; lambda_max = λ₁, the top Hessian eigenvalue of the training loss;
each cell is the mean ± sample std over the ok trials of its row ("(n=k)": finite for k of them).
`

// WriteTable writes the groups as an aligned text table, one line per group,
// preceded by the axes held fixed and followed by TableLegend:
//
//	fixed: n=2048 momentum=0 sam_m=0 sam_rho=0 weight_decay=0
//	batch_size  lr    g     ok  train_acc        test_acc         gap              lambda_max     diverged  not_fitted  failed  unfinished
//	8           0.02  5.1   3   0.8936 ± 0.0015  …
//
// Accuracies and gaps are printed with 4 decimals, g with 4 significant
// digits, λ₁'s mean with 4 significant digits and its std with as many
// decimals (SigDecimals); "-" marks a metric without a finite value.
func WriteTable(w io.Writer, g Groups) error {
	if len(g.Fixed) > 0 {
		var parts []string
		for _, name := range slices.Sorted(maps.Keys(g.Fixed)) {
			parts = append(parts, name+"="+ShowValue(g.Fixed[name]))
		}
		fmt.Fprintf(w, "fixed: %s\n", strings.Join(parts, " "))
	}
	showG := slices.ContainsFunc(g.Groups, func(gr Group) bool { return !math.IsNaN(gr.NoiseScale) })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := slices.Clone(g.By)
	if showG {
		head = append(head, "g")
	}
	head = append(head, "ok")
	head = append(head, tableMetrics...)
	head = append(head, "diverged", "not_fitted", "failed", "unfinished")
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for i, gr := range g.Groups {
		cells := make([]string, len(gr.Key))
		for j, k := range gr.Key {
			cells[j] = ShowValue(k)
		}
		if showG {
			cells = append(cells, formatG(gr.NoiseScale))
		}
		cells = append(cells, strconv.Itoa(gr.Counts.OK))
		for _, m := range tableMetrics {
			s, _ := g.Metric(i, m)
			decimals := 4
			if m == MetricLambdaMax {
				decimals = SigDecimals(s.Mean, 4)
			}
			cells = append(cells, pm(s, gr.Counts.OK, decimals))
		}
		cells = append(cells, strconv.Itoa(gr.Counts.Diverged), strconv.Itoa(gr.Counts.NotFitted), strconv.Itoa(gr.Counts.Failed), strconv.Itoa(gr.Counts.Unfinished))
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	if len(g.Failures) > 0 {
		fmt.Fprintln(w)
		if err := WriteFailures(w, g.Failures, 0); err != nil {
			return err
		}
	}
	if g.External > 0 {
		fmt.Fprintf(w, "\n%s\n", ExternalNote(g.External))
	}
	_, err := fmt.Fprint(w, "\n"+TableLegend)
	return err
}

// WriteFailures writes why trials failed, one line per state and reason,
// most frequent first, at most limit lines (all when limit ≤ 0), each
// reason's first line only:
//
//	failed trials, by reason:
//	  2  discarded  input error  dataset: …/train-images-idx3-ubyte: data: malformed data file: …
//
// "input error" marks a permanent failure (an invalid spec, missing or
// malformed data), which no retry mends.
func WriteFailures(w io.Writer, fs []Failure, limit int) error {
	if len(fs) == 0 {
		return nil
	}
	fmt.Fprintln(w, "failed trials, by reason:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, f := range fs {
		if limit > 0 && i == limit {
			rest := 0
			for _, g := range fs[i:] {
				rest += g.Trials
			}
			fmt.Fprintf(tw, "  %d\tmore, for %d other reasons\t\t\n", rest, len(fs)-i)
			break
		}
		kind := "retryable"
		switch {
		case f.Permanent:
			kind = "input error"
		case f.State == StateCancelled, f.State == StateSucceeded:
			kind = "-"
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\n", f.Trials, f.State, kind, FirstLine(f.Reason, 200))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write failures: %w", err)
	}
	return nil
}

func formatG(g float64) string {
	if math.IsNaN(g) {
		return "-"
	}
	return fmt.Sprintf("%.4g", g)
}

// SigDecimals returns the number of decimals that shows x with sig
// significant digits in fixed notation (0 for |x| ≥ 10^(sig−1)), capped at
// 8; the table prints a mean and its std with the same decimals, so that
// rows line up and "8.190 ± 0.267" sits beside "8.731 ± 0.624".
func SigDecimals(x float64, sig int) int {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return sig - 1
	}
	d := sig - 1 - int(math.Floor(math.Log10(math.Abs(x))))
	return max(0, min(d, 8))
}

// pm formats s as "mean ± std", both with the given decimals.
func pm(s Summary, ok int, decimals int) string {
	if s.Count == 0 {
		return "-"
	}
	out := fmt.Sprintf("%.*f ± %.*f", decimals, s.Mean, decimals, s.Std)
	if s.Count < ok {
		out += fmt.Sprintf(" (n=%d)", s.Count)
	}
	return out
}

// WriteCSV writes the groups as CSV: the grouping axes, g, trials, ok,
// diverged, not_fitted, failed, unfinished, then for every metric m its m_count,
// m_mean, m_std, m_min, m_max, m_ci95_low and m_ci95_high. Numbers are in
// shortest round-trip form; an undefined one is an empty cell.
func WriteCSV(w io.Writer, g Groups) error {
	cw := csv.NewWriter(w)
	head := slices.Clone(g.By)
	head = append(head, "g", "trials", "ok", "diverged", "not_fitted", "failed", "unfinished")
	for _, m := range g.Metrics {
		head = append(head, m+"_count", m+"_mean", m+"_std", m+"_min", m+"_max", m+"_ci95_low", m+"_ci95_high")
	}
	if err := cw.Write(head); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	for _, gr := range g.Groups {
		c := gr.Counts
		rec := slices.Clone(gr.Key)
		rec = append(rec, ftoa(gr.NoiseScale), strconv.Itoa(c.Trials), strconv.Itoa(c.OK), strconv.Itoa(c.Diverged),
			strconv.Itoa(c.NotFitted), strconv.Itoa(c.Failed), strconv.Itoa(c.Unfinished))
		for _, s := range gr.Metrics {
			rec = append(rec, strconv.Itoa(s.Count), ftoa(s.Mean), ftoa(s.Std), ftoa(s.Min), ftoa(s.Max), ftoa(s.Lo), ftoa(s.Hi))
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
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return ""
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// jsonNumber encodes a float, writing NaN and ±Inf as null.
type jsonNumber float64

// MarshalJSON writes the number, or null when it is not finite.
func (x jsonNumber) MarshalJSON() ([]byte, error) {
	f := float64(x)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// jsonSummary is a Summary with undefined numbers as null.
type jsonSummary struct {
	Count int        `json:"count"`
	Mean  jsonNumber `json:"mean"`
	Std   jsonNumber `json:"std"`
	Min   jsonNumber `json:"min"`
	Max   jsonNumber `json:"max"`
	Lo    jsonNumber `json:"ci95_low"`
	Hi    jsonNumber `json:"ci95_high"`
}

// jsonGroup is one group as WriteJSON writes it.
type jsonGroup struct {
	Key     map[string]json.RawMessage `json:"key"`
	G       jsonNumber                 `json:"g"`
	Counts  Counts                     `json:"counts"`
	Metrics map[string]jsonSummary     `json:"metrics"`
}

// jsonGroups converts the groups for WriteJSON.
func (g Groups) jsonGroups() []jsonGroup {
	out := make([]jsonGroup, len(g.Groups))
	for i, gr := range g.Groups {
		jg := jsonGroup{Key: map[string]json.RawMessage{}, G: jsonNumber(gr.NoiseScale), Counts: gr.Counts, Metrics: map[string]jsonSummary{}}
		for j, a := range g.By {
			jg.Key[a] = json.RawMessage(gr.Key[j])
		}
		for j, m := range g.Metrics {
			if s := gr.Metrics[j]; s.Count > 0 {
				jg.Metrics[m] = jsonSummary{s.Count, jsonNumber(s.Mean), jsonNumber(s.Std), jsonNumber(s.Min), jsonNumber(s.Max), jsonNumber(s.Lo), jsonNumber(s.Hi)}
			}
		}
		out[i] = jg
	}
	return out
}

// ExternalNote says that n trials are results of an external program.
func ExternalNote(n int) string {
	return fmt.Sprintf("note: %d trials are results of an external program (command trials): their metrics are the program's, which flatsweep cannot promise to be bit-identical across retries.", n)
}

// WriteJSON writes the groups as one indented JSON document: the grouping
// axes, the fixed axes, the groups, each with its key (axis → exact
// value), g, counts and the summary of every metric it has (undefined
// numbers as null), and the failures (see Failure).
func WriteJSON(w io.Writer, g Groups) error {
	doc := struct {
		By       []string          `json:"group_by"`
		Fixed    map[string]string `json:"fixed"`
		Groups   []jsonGroup       `json:"groups"`
		Failures []Failure         `json:"failures"`
		External int               `json:"external_trials,omitempty"`
	}{g.By, g.Fixed, g.jsonGroups(), g.Failures, g.External}
	if doc.Failures == nil {
		doc.Failures = []Failure{}
	}
	if doc.By == nil {
		doc.By = []string{}
	}
	if doc.Fixed == nil {
		doc.Fixed = map[string]string{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// WriteJSONLines writes one JSON object per group (see WriteJSON).
func WriteJSONLines(w io.Writer, g Groups) error {
	enc := json.NewEncoder(w)
	for _, jg := range g.jsonGroups() {
		if err := enc.Encode(jg); err != nil {
			return fmt.Errorf("write json lines: %w", err)
		}
	}
	return nil
}

// Writer returns the writer of a format: "table", "csv", "json" or "jsonl".
func Writer(format string) (func(io.Writer, Groups) error, error) {
	switch format {
	case "table":
		return WriteTable, nil
	case "csv":
		return WriteCSV, nil
	case "json":
		return WriteJSON, nil
	case "jsonl":
		return WriteJSONLines, nil
	}
	return nil, fmt.Errorf("want table, csv, json or jsonl, got %q", format)
}
