package analysis

import (
	"bytes"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/results"
	"github.com/flatsweep/flatsweep/spec"
)

// TestCostsInAnalysisAndExport: the analysis (and so the report) sums where
// a sweep's time went, and the export has each trial's seconds and costs,
// missing for a result stored before costs were recorded.
func TestCostsInAnalysisAndExport(t *testing.T) {
	recs := fixture()
	recs[0].Result.TrainSeconds, recs[0].Result.CurvatureSeconds = 6, 4
	recs[0].Result.Costs = []spec.MeasureCost{{Measure: spec.CostHessian, Gradients: 1, Seconds: 0.5},
		{Measure: "top_k", HVPs: 17, Seconds: 3.5, Residuals: []float64{2e-4}}}
	a := Analyze("s", PointsFromRecords(recs))
	if len(a.Costs) != 4 || a.Costs[0].Name != results.CostTraining || a.Costs[3] != (results.CostRow{Name: "top_k", Trials: 1, HVPs: 17, Seconds: 3.5}) {
		t.Fatalf("costs %+v", a.Costs)
	}
	var md bytes.Buffer
	if err := BuildReport(PointsFromRecords(recs), ReportOptions{Sweep: "s"}).WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Where the time went", "· top_k", "35.0%"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	tab := TrialTableFromRecords(recs)
	idx := map[string]int{}
	for i, c := range tab.Columns {
		idx[c.Name] = i
	}
	r0, r1 := tab.Rows[0], tab.Rows[1]
	if r0[idx["train_seconds"]] != 6.0 || r0[idx["curvature_seconds"]] != 4.0 || r0[idx["curvature_hvps"]] != int64(17) ||
		r0[idx["curvature_gradients"]] != int64(1) || r0[idx["seconds_top_k"]] != 3.5 || r0[idx["seconds_hessian"]] != 0.5 {
		t.Errorf("cost cells %v", r0)
	}
	if r1[idx["train_seconds"]] != nil || r1[idx["seconds_top_k"]] != nil || r1[idx["curvature_hvps"]] != nil {
		t.Errorf("cost cells of a result without costs %v", r1)
	}
	var pq bytes.Buffer
	if err := tab.WriteParquet(&pq); err != nil {
		t.Fatal(err)
	}
}
