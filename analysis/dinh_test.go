package analysis

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
)

// dinhRecords returns six successful trials and one diverged trial with
// Dinh's check: "fisher_rao" is invariant (after = before up to 1e-12
// relative), "trace" is scrambled (after a permuted multiple of before), and
// λ₁ is scaled by 100 (τ = 1 but changed).
func dinhRecords() []Record {
	traces := []float64{1, 2, 3, 4, 5, 6}
	scrambled := []float64{60, 10, 50, 20, 40, 30}
	var recs []Record
	for i, tr := range traces {
		r := ok(1000, 10*(i%3+1), 0.1, int64(i/3+1), 0.9, 0.7-0.01*float64(i), 0.1, 0.5, tr/2)
		r.Result.Measures = map[string]float64{
			"trace": tr, "trace" + DinhSuffix: scrambled[i],
			"fisher_rao": 0.5 + tr, "fisher_rao" + DinhSuffix: (0.5 + tr) * (1 + 1e-12),
			MetricLambdaMax + DinhSuffix: 100 * tr / 2,
			MetricDinhOutputChange:       1e-16 * float64(i),
		}
		recs = append(recs, r)
	}
	d := diverged(1000, 10, 0.1, 9)
	d.Result.Measures = map[string]float64{"trace": 1, "trace" + DinhSuffix: 1e9}
	return append(recs, d)
}

func TestAnalyzeDinh(t *testing.T) {
	pts := PointsFromRecords(dinhRecords())
	if got := FlatnessMeasures(pts); !slices.Equal(got, []string{"fisher_rao", "lambda_max", "trace"}) {
		t.Errorf("flatness measures %v", got)
	}
	a := Analyze("dinh", pts)
	for _, s := range a.Scores {
		if IsDinhMetric(s.Measure) {
			t.Errorf("score for %s", s.Measure)
		}
	}
	d := a.Dinh
	if d.Trials != 6 || d.MaxOutputChange != 5e-16 || d.Threshold != DinhInvariantTol {
		t.Errorf("dinh %+v", d)
	}
	got := map[string]DinhMeasure{}
	var names []string
	for _, m := range d.Measures {
		got[m.Measure] = m
		names = append(names, m.Measure)
	}
	if !slices.Equal(names, []string{"fisher_rao", "lambda_max", "trace"}) {
		t.Fatalf("measures %v", names)
	}
	fr := got["fisher_rao"]
	if fr.Verdict != DinhInvariant || fr.Tau != 1 || fr.N != 6 || fr.MaxRelChange > 2e-12 || fr.Error != "" {
		t.Errorf("fisher_rao %+v", fr)
	}
	tr := got["trace"]
	if tr.Verdict != DinhChanged || tr.Tau == 1 || !(math.Abs(tr.Tau) < 1) || tr.N != 6 {
		t.Errorf("trace %+v", tr)
	}
	// Relative changes of trace: 59, 4, 15.67, 4, 7, 4 → median (4 + 7)/2.
	if tr.MaxRelChange != 59 || math.Abs(tr.MedianRelChange-5.5) > 1e-12 {
		t.Errorf("trace changes %v, %v", tr.MaxRelChange, tr.MedianRelChange)
	}
	lm := got["lambda_max"]
	if lm.Verdict != DinhChanged || lm.Tau != 1 || math.Abs(lm.MedianRatio-100) > 1e-9 || math.Abs(lm.MedianRelChange-99) > 1e-9 {
		t.Errorf("lambda_max %+v", lm)
	}
	if !slices.Contains(a.Metrics, "trace"+DinhSuffix) || slices.Contains(a.Measures, "trace"+DinhSuffix) {
		t.Errorf("metrics %v, measures %v", a.Metrics, a.Measures)
	}

	var js bytes.Buffer
	if err := WriteAnalysisJSON(&js, a); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Dinh struct {
			Trials   int `json:"trials"`
			Measures []struct {
				Measure string   `json:"measure"`
				Tau     *float64 `json:"tau"`
				Verdict string   `json:"verdict"`
			} `json:"measures"`
		} `json:"dinh"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Dinh.Trials != 6 || len(back.Dinh.Measures) != 3 || back.Dinh.Measures[0].Verdict != DinhInvariant ||
		back.Dinh.Measures[0].Tau == nil || *back.Dinh.Measures[0].Tau != 1 {
		t.Errorf("json dinh %+v", back.Dinh)
	}

	var txt bytes.Buffer
	if err := WriteAnalysisTable(&txt, a); err != nil {
		t.Fatal(err)
	}
	out := txt.String()
	for _, want := range []string{"== Dinh's check", "fisher_rao", "invariant", "changed", "≤ 1e-06", "not separate measures"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q", want)
		}
	}
	scores := out[strings.Index(out, "== Flatness measures"):strings.Index(out, "== Dinh's check")]
	for _, line := range strings.Split(scores, "\n") {
		if first, _, _ := strings.Cut(line, " "); IsDinhMetric(first) {
			t.Errorf("scores table has a row for %s", first)
		}
	}
}

func TestAnalyzeWithoutDinh(t *testing.T) {
	a := Analyze("fx", PointsFromRecords(fixture()))
	if a.Dinh.Trials != 0 || len(a.Dinh.Measures) != 0 || a.Dinh.Measures == nil {
		t.Errorf("dinh %+v", a.Dinh)
	}
	for _, tb := range a.tables() {
		if tb.id == "dinh" {
			t.Error("Dinh table without the check")
		}
	}
	var js bytes.Buffer
	if err := WriteAnalysisJSON(&js, a); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js.String(), `"max_output_change": null`) {
		t.Errorf("json: %s", js.String())
	}
}

func TestDinhOutputChangeNote(t *testing.T) {
	recs := dinhRecords()
	recs[2].Result.Measures[MetricDinhOutputChange] = 0.5
	a := Analyze("bad", PointsFromRecords(recs))
	if !strings.Contains(strings.Join(a.Notes, "\n"), "did not preserve the function") {
		t.Errorf("notes %v", a.Notes)
	}
}

func TestDinhMeasureSingleTrial(t *testing.T) {
	m := dinhMeasure("x", []float64{2, math.NaN()}, []float64{2, 3})
	if m.N != 1 || !math.IsNaN(m.Tau) || m.Verdict != DinhInvariant || m.Error == "" || m.MedianRelChange != 0 {
		t.Errorf("%+v", m)
	}
	m = dinhMeasure("x", []float64{math.NaN()}, []float64{1})
	if m.N != 0 || m.Verdict != "" || m.Error == "" {
		t.Errorf("%+v", m)
	}
}

func TestReportDinh(t *testing.T) {
	rep := BuildReport(PointsFromRecords(dinhRecords()), ReportOptions{Sweep: "dinh"})
	var names []string
	for _, f := range rep.Figures {
		if f.Err != "" || len(f.PNG) == 0 {
			t.Errorf("figure %s: %s", f.Name, f.Err)
		}
		names = append(names, f.Name)
	}
	for _, want := range []string{"dinh_fisher_rao", "dinh_lambda_max", "dinh_trace"} {
		if !slices.Contains(names, want) {
			t.Errorf("figures %v lack %s", names, want)
		}
	}
	for _, n := range names {
		if strings.Contains(n, "measure_") && strings.Contains(n, "dinh") {
			t.Errorf("measure-vs-gap figure for a Dinh metric: %s", n)
		}
	}
	var html, md bytes.Buffer
	if err := rep.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{html.String(), md.String()} {
		if !strings.Contains(s, "Dinh&#39;s check") && !strings.Contains(s, "Dinh's check") {
			t.Error("report lacks the Dinh section")
		}
		if !strings.Contains(s, "invariant") {
			t.Error("report lacks the verdicts")
		}
	}
	if !strings.Contains(html.String(), `id="dinh"`) {
		t.Error("html lacks section id dinh")
	}
	empty := DinhScatter(nil, "trace")
	if !empty.Empty {
		t.Error("scatter of nothing is not empty")
	}
}
