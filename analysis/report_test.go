package analysis

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

func TestPointsFromRecordsMomentumAndMeasures(t *testing.T) {
	r := ok(1000, 10, 0.1, 1, 0.9, 0.7, 0.1, 0.5, 2)
	r.Spec.Optimizer.Momentum = 0.9
	r.Result.Measures = map[string]float64{"trace": 7, MetricTestAcc: 99}
	d := diverged(1000, 10, 0.1, 2)
	d.Result.Measures = map[string]float64{"trace": 1}
	pts := PointsFromRecords([]Record{r, d})
	p := pts[0]
	if p.Axes[AxisMomentum] != 0.9 || p.Metric("trace") != 7 || p.Metric(MetricTestAcc) != 0.7 {
		t.Errorf("point %+v", p)
	}
	if !near(p.NoiseScale(), 0.1/(1-0.9)*99) {
		t.Errorf("g = %v", p.NoiseScale())
	}
	if !math.IsNaN(pts[1].Metric("trace")) {
		t.Errorf("diverged trial has a measure: %+v", pts[1])
	}
	if got := FlatnessMeasures(pts); strings.Join(got, ",") != "lambda_max,trace" {
		t.Errorf("measures %v", got)
	}
}

func TestReportWithDensities(t *testing.T) {
	recs := fixture()
	recs[0].Result.Density = &spec.SpectralDensity{Params: 50, Nodes: [][]float64{{-0.1, 1, 5}, {0, 2, 4}},
		Weights: [][]float64{{0.2, 0.5, 0.3}, {0.4, 0.4, 0.2}}}
	dens := DensitiesFromRecords(recs, 3)
	if len(dens) != 1 || len(dens[0].Values) != densityGrid {
		t.Fatalf("densities %d", len(dens))
	}
	// ∫ρ dλ = P (weights sum to 1 per run).
	d := dens[0]
	var integral float64
	for i := 1; i < len(d.Values); i++ {
		integral += (d.Values[i] + d.Values[i-1]) / 2 * (d.Eigenvalues[i] - d.Eigenvalues[i-1])
	}
	if math.Abs(integral-50) > 0.5 {
		t.Errorf("∫ρ = %v, want 50", integral)
	}
	rep := BuildReport(PointsFromRecords(recs), ReportOptions{Sweep: "fx", Densities: dens})
	var names []string
	for _, f := range rep.Figures {
		if f.Err != "" || len(f.PNG) == 0 || len(f.SVG) == 0 {
			t.Errorf("figure %s: %s", f.Name, f.Err)
		}
		names = append(names, f.Name)
	}
	if !strings.Contains(strings.Join(names, ","), "density_1") {
		t.Errorf("figures %v", names)
	}
	var html bytes.Buffer
	if err := rep.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html.String(), "No Hessian spectral densities") || strings.Count(html.String(), "data:image/png;base64,") != len(names) {
		t.Error("html does not embed every figure")
	}
	if _, ok := DensityFromSLQ("x", &spec.SpectralDensity{Nodes: [][]float64{{math.NaN()}}, Weights: [][]float64{{1}}}); ok {
		t.Error("density from no finite node")
	}
}

func TestTrialTableMissingValues(t *testing.T) {
	recs := fixture()
	recs[0].Result.Measures = map[string]float64{"trace": 3, "gap": 1}
	recs[0].Spec.SAM = spec.SAM{Rho: 0.05, M: 8}
	recs[0].Result.Gradients = 40
	recs[0].Result.Sharpness = []spec.SharpnessPoint{{LambdaMax: 2, StabilityLimit: 20}, {Step: 9, LambdaMax: 7.5, StabilityLimit: 20}}
	tab := TrialTableFromRecords(recs)
	idx := map[string]int{}
	for i, c := range tab.Columns {
		idx[c.Name] = i
	}
	if _, ok := idx["measure_gap"]; !ok {
		t.Fatalf("colliding measure key not renamed: %v", tab.Columns)
	}
	if len(tab.Rows) != len(recs) || tab.Rows[0][idx["trace"]] != 3.0 || tab.Rows[1][idx["trace"]] != nil {
		t.Errorf("trace cells %v, %v", tab.Rows[0][idx["trace"]], tab.Rows[1][idx["trace"]])
	}
	if r := tab.Rows[0]; r[idx["sam_rho"]] != 0.05 || r[idx["sam_m"]] != int64(8) || r[idx["gradients"]] != int64(40) ||
		r[idx["tracked_points"]] != int64(2) || r[idx["tracked_lambda_max"]] != 7.5 || r[idx["stability_limit"]] != 20.0 {
		t.Errorf("SAM and tracking cells: %v", r)
	}
	if r := tab.Rows[1]; r[idx["gradients"]] != nil || r[idx["tracked_lambda_max"]] != nil || r[idx["sam_rho"]] != 0.0 {
		t.Errorf("cells of a trial without SAM, counted gradients or tracking: %v", r)
	}
	var csvOut, pq bytes.Buffer
	if err := tab.WriteCSV(&csvOut); err != nil {
		t.Fatal(err)
	}
	if err := tab.WriteParquet(&pq); err != nil {
		t.Fatal(err)
	}
	if got := len(tab.ParquetSchema().Columns()); got != len(tab.Columns) {
		t.Errorf("parquet schema has %d columns, want %d", got, len(tab.Columns))
	}
}

// TestAnalysisSaysWhyTrialsFailed: failed trials are counted and their
// reasons listed under the counts, input errors marked.
func TestAnalysisSaysWhyTrialsFailed(t *testing.T) {
	bad := diverged(1000, 10, 0.1, 3)
	bad.Result, bad.State, bad.Error, bad.Permanent = nil, StateDiscarded, "dataset: d/x: data: malformed data file", true
	retried := diverged(1000, 10, 0.1, 4)
	retried.Result, retried.State, retried.Error = nil, StateFailed, "panic: boom"
	recs := []Record{ok(1000, 10, 0.1, 1, 0.9, 0.7, 0.1, 0.5, 2), bad, retried}
	a := Analyze("s", PointsFromRecords(recs))
	if a.Counts.Failed != 2 || len(a.Failures) != 2 || !a.Failures[0].Permanent && !a.Failures[1].Permanent {
		t.Fatalf("counts %+v, failures %+v", a.Counts, a.Failures)
	}
	var b bytes.Buffer
	if err := WriteAnalysisTable(&b, a); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1 discarded, for an error of their input that retrying does not mend: dataset: d/x: data: malformed data file", "1 failed: panic: boom"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("analysis lacks %q:\n%s", want, b.String())
		}
	}
}

// TestReportWithTrackingAndLandscapes: a sweep whose trials tracked λ₁ and
// measured a landscape gets the λ₁-along-training figure and each shown
// trial's landscape figures (a contour map for a 2-D slice); one without
// gets neither.
func TestReportWithTrackingAndLandscapes(t *testing.T) {
	names := func(rep *Report) string {
		var out []string
		for _, f := range rep.Figures {
			if f.Err != "" || len(f.PNG) == 0 {
				t.Errorf("figure %s: %s", f.Name, f.Err)
			}
			out = append(out, f.Name)
		}
		return strings.Join(out, ",")
	}
	plain := names(BuildReport(PointsFromRecords(fixture()), ReportOptions{Sweep: "fx"}))
	if strings.Contains(plain, "sharpness") || strings.Contains(plain, "landscape") {
		t.Errorf("figures of a sweep without tracking or landscapes: %s", plain)
	}
	recs := fixture()
	for i := range recs {
		if recs[i].Result == nil {
			continue
		}
		recs[i].Result.Sharpness = []spec.SharpnessPoint{{Step: 0, LambdaMax: 1, StabilityLimit: 20}, {Step: 5, LambdaMax: 3, StabilityLimit: 20}}
		recs[i].Result.Landscape = &spec.Landscape{Kind: "2d", A: []float64{-1, 0, 1}, B: []float64{-1, 1},
			TrainLoss: []float64{3, 1, 2, 4, 2, 3}, TrainAcc: []float64{0.1, 0.9, 0.5, 0.1, 0.5, 0.4},
			TestLoss: []float64{3, 1.2, 2, 4, 2, 3}, TestAcc: []float64{0.1, 0.8, 0.5, 0.1, 0.5, 0.4}, Examples: 10, TestExamples: 10, Evaluations: 6}
	}
	got := names(BuildReport(PointsFromRecords(recs), ReportOptions{Sweep: "fx"}))
	for _, want := range []string{"sharpness", "landscape_1_loss", "landscape_1_contour"} {
		if !strings.Contains(got, want) {
			t.Errorf("figures %s: no %s", got, want)
		}
	}
}
