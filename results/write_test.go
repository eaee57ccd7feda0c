package results_test

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/results"
)

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	if err := results.WriteTable(&b, summarize(t, fixture(), nil)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	table, rest, found := strings.Cut(out, "\n\n")
	failures, legend, _ := strings.Cut(rest, "\n\n")
	if !found || legend != results.TableLegend {
		t.Errorf("table not followed by a blank line, the failures, a blank line and the legend:\n%s", out)
	}
	// The fixture's two failed trials say why.
	if want := "failed trials, by reason:\n  1  failed     retryable  no error message recorded\n  1  succeeded  -          succeeded without a recorded result"; failures != want {
		t.Errorf("failures\n%s\nwant\n%s", failures, want)
	}
	lines := strings.Split(table, "\n")
	if len(lines) != 7 {
		t.Fatalf("got %d lines, want fixed + header + 5:\n%s", len(lines), out)
	}
	if lines[0] != "fixed: momentum=0 sam_m=0 sam_rho=0 weight_decay=0" {
		t.Errorf("fixed line = %q", lines[0])
	}
	if got := strings.Fields(lines[1]); strings.Join(got, " ") != "n batch_size lr g ok train_acc test_acc gap lambda_max diverged not_fitted failed unfinished" {
		t.Errorf("header = %q", lines[1])
	}
	cells := regexp.MustCompile(`\s{2,}`)
	for i, want := range []string{
		"500|10|0.1|4.9|1|0.9900 ± 0.0000|0.5000 ± 0.0000|0.4900 ± 0.0000|10.00 ± 0.00|0|0|0|0",
		"1000|10|0.05|4.95|2|0.9000 ± 0.0707|0.7000 ± 0.0707|0.2000 ± 0.0000|3.000 ± 0.000 (n=1)|0|0|0|0",
		"1000|10|0.1|9.9|3|0.9000 ± 0.1000|0.7000 ± 0.1000|0.2000 ± 0.0000|5.000 ± 3.606|1|0|2|1",
		"1000|100|0.1|0.9|0|-|-|-|-|2|0|0|0",
		"1000|1000|0.1|0|1|0.5000 ± 0.0000|0.4500 ± 0.0000|0.0500 ± 0.0000|0.2500 ± 0.0000|0|0|0|0",
	} {
		if got := strings.Join(cells.Split(strings.TrimSpace(lines[i+2]), -1), "|"); got != want {
			t.Errorf("row %d\n got %s\nwant %s", i, got, want)
		}
	}
	// Columns are aligned: "±" of train_acc at the same rune offset on every row.
	col := -1
	for _, l := range lines[2:] {
		if i := strings.Index(l, "±"); i >= 0 {
			if p := len([]rune(l[:i])); col < 0 {
				col = p
			} else if p != col {
				t.Errorf("misaligned row %q", l)
			}
		}
	}
	t.Logf("\n%s", out)

	// Without a noise scale in any group (Adam) the g column is left out.
	recs := fixture()
	for i := range recs {
		recs[i].Spec.Optimizer.Name = "adam"
	}
	b.Reset()
	if err := results.WriteTable(&b, summarize(t, recs, nil)); err != nil {
		t.Fatal(err)
	}
	if header := strings.Split(b.String(), "\n")[1]; strings.Fields(header)[3] != "ok" {
		t.Errorf("Adam: header %q, want no g column", header)
	}
}

func TestWriteCSV(t *testing.T) {
	var b bytes.Buffer
	g := summarize(t, fixture(), nil)
	if err := results.WriteCSV(&b, g); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	wantHeader := "n,batch_size,lr,g,trials,ok,diverged,not_fitted,failed,unfinished"
	for _, m := range results.BaseMetrics() {
		for _, s := range []string{"count", "mean", "std", "min", "max", "ci95_low", "ci95_high"} {
			wantHeader += "," + m + "_" + s
		}
	}
	if got := strings.Join(recs[0], ","); got != wantHeader {
		t.Errorf("header\n got %s\nwant %s", got, wantHeader)
	}
	if !strings.HasPrefix(wantHeader, "n,batch_size,lr,g,trials,ok,diverged,not_fitted,failed,unfinished,train_acc_count,train_acc_mean,train_acc_std,") {
		t.Errorf("base metrics %v do not start with train_acc", results.BaseMetrics())
	}
	if len(recs) != 1+len(g.Groups) {
		t.Fatalf("got %d records, want %d", len(recs), 1+len(g.Groups))
	}
	for i, r := range recs {
		if len(r) != len(recs[0]) {
			t.Errorf("record %d has %d fields, header %d", i, len(r), len(recs[0]))
		}
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	// Record 3 is A, 4 is E (only diverged trials), 5 is B (one trial).
	for _, c := range []struct {
		row       int
		col, want string
	}{
		{3, "n", "1000"}, {3, "batch_size", "10"}, {3, "lr", "0.1"}, {3, "trials", "7"}, {3, "ok", "3"},
		{3, "diverged", "1"}, {3, "failed", "2"}, {3, "unfinished", "1"}, {3, "g", "9.9"},
		{3, "train_acc_mean", "0.9"}, {3, "lambda_max_mean", "5"}, {3, "lambda_max_count", "3"},
		{3, "test_acc_min", "0.6"}, {3, "test_acc_max", "0.8"}, {3, "lambda_max_min", "2"}, {3, "lambda_max_max", "9"},
		{4, "train_acc_mean", ""}, {4, "train_acc_std", ""}, {4, "train_acc_count", "0"}, {4, "diverged", "2"},
		{4, "train_acc_ci95_low", ""},
		{5, "g", "0"}, {5, "test_acc_std", "0"}, {5, "test_acc_ci95_low", ""}, {5, "test_acc_ci95_high", ""},
		{2, "lr", "0.05"}, {2, "lambda_max_count", "1"}, {2, "train_acc_count", "2"},
	} {
		if got := recs[c.row][col[c.col]]; got != c.want {
			t.Errorf("record %d column %s = %q, want %q", c.row, c.col, got, c.want)
		}
	}
	// The interval is written in shortest round-trip form.
	half := 4.302652729911275 * 0.1 / math.Sqrt(3)
	var lo float64
	if _, err := fmt.Sscan(recs[3][col["test_acc_ci95_low"]], &lo); err != nil || math.Abs(lo-(0.7-half)) > 1e-9 {
		t.Errorf("A test_acc_ci95_low = %q, want %v", recs[3][col["test_acc_ci95_low"]], 0.7-half)
	}
}

// jsonDoc is the document WriteJSON writes.
type jsonDoc struct {
	By     []string          `json:"group_by"`
	Fixed  map[string]string `json:"fixed"`
	Groups []struct {
		Key     map[string]json.RawMessage `json:"key"`
		G       *float64                   `json:"g"`
		Counts  results.Counts             `json:"counts"`
		Metrics map[string]results.Summary `json:"metrics"`
	} `json:"groups"`
	Failures []results.Failure `json:"failures"`
}

// groups rebuilds the Groups a document was written from, given the names
// of its metrics (a metric without a finite value is absent from the JSON
// and reads back as Describe(nil)).
func (d jsonDoc) groups(metrics []string) results.Groups {
	out := results.Groups{By: d.By, Metrics: metrics, Fixed: d.Fixed, Failures: d.Failures}
	for _, jg := range d.Groups {
		g := results.Group{Counts: jg.Counts, NoiseScale: math.NaN()}
		if jg.G != nil {
			g.NoiseScale = *jg.G
		}
		for _, a := range d.By {
			g.Key = append(g.Key, string(jg.Key[a]))
		}
		for _, m := range metrics {
			s, ok := jg.Metrics[m]
			if !ok {
				s = results.Describe(nil)
			}
			g.Metrics = append(g.Metrics, s)
		}
		out.Groups = append(out.Groups, g)
	}
	return out
}

func TestWriteJSONRoundTrip(t *testing.T) {
	g := summarize(t, fixture(), nil)
	// A group whose g does not apply (B = 0) and whose λ₁ is infinite.
	inf := results.Group{Key: []string{"1", "0", "0.1"}, Counts: results.Counts{Trials: 1, OK: 1},
		NoiseScale: results.NoiseScale(trialAt(1, 0, 0.1, 1)), Metrics: make([]results.Summary, len(g.Metrics))}
	for i := range inf.Metrics {
		inf.Metrics[i] = results.Describe(nil)
	}
	inf.Metrics[slices.Index(g.Metrics, results.MetricLambdaMax)] = results.Summary{Count: 1, Mean: math.Inf(1), Min: math.Inf(1), Max: math.Inf(1), Lo: math.NaN(), Hi: math.NaN()}
	g.Groups = append(g.Groups, inf)
	var b bytes.Buffer
	if err := results.WriteJSON(&b, g); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"train_acc": {`, `"mean": null`, `"ci95_low": null`, `"g": null`, `"group_by": [`, `"n": 1000`, `"momentum": "0"`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("JSON lacks %s:\n%s", want, b.String())
		}
	}
	var doc jsonDoc
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	back := doc.groups(g.Metrics)
	lm := slices.Index(g.Metrics, results.MetricLambdaMax)
	last := &g.Groups[len(g.Groups)-1].Metrics[lm] // ±Inf is written as null, read back as NaN
	last.Mean, last.Min, last.Max = math.NaN(), math.NaN(), math.NaN()
	// %v prints NaN as "NaN", so equal strings mean equal groups, NaNs included.
	if got, want := fmt.Sprintf("%+v", back), fmt.Sprintf("%+v", g); got != want {
		t.Errorf("round trip\n got %s\nwant %s", got, want)
	}

	// JSON lines: one object per group, the same as the document's groups.
	b.Reset()
	if err := results.WriteJSONLines(&b, g); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&b)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		var line map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		var key map[string]json.RawMessage
		if err := json.Unmarshal(line["key"], &key); err != nil || len(key) != 3 {
			t.Errorf("line %d key %s: %v", n, line["key"], err)
		}
		n++
	}
	if n != len(g.Groups) {
		t.Errorf("%d JSON lines, want %d", n, len(g.Groups))
	}
}

func TestWriter(t *testing.T) {
	for _, f := range []string{"table", "csv", "json", "jsonl"} {
		if w, err := results.Writer(f); err != nil || w == nil {
			t.Errorf("Writer(%q): %v", f, err)
		}
	}
	if _, err := results.Writer("xml"); err == nil || !strings.Contains(err.Error(), "table, csv, json or jsonl") {
		t.Errorf("Writer(xml): %v", err)
	}
}

// TestSummaryJSON: a Summary encodes undefined numbers as null, with the
// interval as ci95_low and ci95_high, and decodes them back as NaN.
func TestSummaryJSON(t *testing.T) {
	s := results.Describe([]float64{1})
	b, err := json.Marshal(s)
	if err != nil || string(b) != `{"count":1,"mean":1,"std":0,"min":1,"max":1,"ci95_low":null,"ci95_high":null}` {
		t.Fatalf("%s, %v", b, err)
	}
	var back results.Summary
	if err := json.Unmarshal(b, &back); err != nil || back.Count != 1 || back.Mean != 1 || !math.IsNaN(back.Lo) || !math.IsNaN(back.Hi) {
		t.Errorf("back %+v, %v", back, err)
	}
	s = results.Describe([]float64{0, 1})
	b, _ = json.Marshal(s)
	if err := json.Unmarshal(b, &back); err != nil || back != s {
		t.Errorf("round trip of %+v: %+v (%s), %v", s, back, b, err)
	}
}
