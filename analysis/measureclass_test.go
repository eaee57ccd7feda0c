package analysis

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// TestClassifyMetricCoversRegistry: every scalar every registry measure can
// record — with its defaults and with settings that rename its records
// (other ε for keskar, plain sharpness, negative eigenvalues) — is either
// auxiliary or classified as a record of that very measure, with the
// registry's invariance (resolved per record for adaptive sharpness) and
// the direction of its definition.
func TestClassifyMetricCoversRegistry(t *testing.T) {
	variants := map[string][]any{
		"keskar":   {spec.KeskarSettings{Epsilons: []float64{2.5e-3}, Space: spec.SpaceSubspace}},
		"adaptive": {spec.AdaptiveSettings{Plain: true}},
		"top_k":    {spec.TopKSettings{K: 3, Negative: 2}},
	}
	flatter := map[string]bool{"pac_bayes_sigma": true, "log_evidence": true, "log_occam": true}
	aux := map[string]bool{"trace_se": true, "log_occam_se": true, "occam_clipped": true, "top_k_converged": true,
		"lambda_min_1": true, "lambda_min_2": true, "lambda_min_converged": true, "adaptive_sharpness_avg_se": true,
		"plain_sharpness_avg_se": true, "relative_flatness_se": true}
	seen := 0
	for _, m := range spec.Registry() {
		for _, settings := range append([]any{m.Settings}, variants[m.Name]...) {
			for _, name := range m.Records(m.WithDefaults(settings)) {
				if strings.Contains(name, "…") {
					continue
				}
				seen++
				c, ok := ClassifyMetric(name)
				if aux[name] {
					if ok {
						t.Errorf("%s: classified %+v, want auxiliary", name, c)
					}
					continue
				}
				if !ok || c.Measure != m.Name || c.Metric != name {
					t.Errorf("%s (of %s): %+v %v", name, m.Name, c, ok)
					continue
				}
				want := m.Invariance
				if m.Name == "adaptive" {
					want = spec.Invariant
					if strings.HasPrefix(name, "plain_") {
						want = spec.NotInvariant
					}
				}
				if c.Invariance != want || c.InvarianceName != want.String() || c.Aware != (want == spec.Invariant || want == spec.NearlyInvariant) {
					t.Errorf("%s: invariance %v (%q, aware %v), want %v", name, c.Invariance, c.InvarianceName, c.Aware, want)
				}
				if wantDir := map[bool]int{false: 1, true: -1}[flatter[name]]; c.Direction != wantDir {
					t.Errorf("%s: direction %d, want %d", name, c.Direction, wantDir)
				}
			}
		}
	}
	if seen < 25 {
		t.Errorf("only %d records seen", seen)
	}
	if c, ok := ClassifyMetric(MetricLambdaMax); !ok || c.Aware || c.Direction != 1 || c.Measure != "lambda_max" {
		t.Errorf("lambda_max: %+v %v", c, ok)
	}
	for _, name := range []string{"custom_metric", "lambda_x", "trace_extra"} {
		if c, ok := ClassifyMetric(name); ok {
			t.Errorf("%s: classified %+v", name, c)
		}
	}
}

// classRecords returns 4 learning rates × 3 seeds of successful trials on
// 10,000 test examples whose gap grows with ε by 0.05 a step (far beyond the
// test sets' binomial error) and within a grid point with the seed, with
// measures planted: trace = gap (raw, predicts), pac_bayes_sigma = −gap
// (aware, direction −1: predicts), fisher_rao = −gap (aware, direction +1:
// reversed), an auxiliary trace_se and an unknown metric.
func classRecords() []Record {
	var recs []Record
	for i, lr := range []float64{0.01, 0.02, 0.04, 0.08} {
		for seed := int64(1); seed <= 3; seed++ {
			gap := 0.05*float64(i) + 0.001*float64(seed)
			r := ok(1000, 10, lr, seed, 1, 1-gap, 0.01, 0.5, 1)
			r.Spec.Dataset.NTest = 10000
			r.Result.Measures = map[string]float64{"trace": gap, "pac_bayes_sigma": -gap, "fisher_rao": -gap,
				"trace_se": 0.1, "custom_metric": gap}
			recs = append(recs, r)
		}
	}
	return recs
}

// TestOrientScores: oriented by their directions, trace and σ' both predict
// the gap perfectly (τ = Ψ = 1, intervals [1, 1], worst environment score 1,
// where σ' itself scores −1 everywhere), the Fisher–Rao norm planted the
// wrong way round has τ = −1; auxiliary and unknown metrics have no row; the
// class summaries count them so.
func TestOrientScores(t *testing.T) {
	pts := PointsFromRecords(classRecords())
	scores, _ := ScoreMeasures(pts, nil)
	var sigma MeasureScore
	for _, s := range scores {
		if s.Measure == "pac_bayes_sigma" {
			sigma = s
		}
	}
	if sigma.TauGap != -1 || sigma.Robust.Worst != -1 || sigma.Robust.Environments != 6 {
		t.Fatalf("σ' itself: τ %v, worst %v over %d environments", sigma.TauGap, sigma.Robust.Worst, sigma.Robust.Environments)
	}
	oriented, sums := OrientScores(pts, scores)
	var names []string
	for _, o := range oriented {
		names = append(names, o.Metric)
	}
	// lambda_max is constant (1): its τ is undefined and it sorts last.
	if strings.Join(names, ",") != "pac_bayes_sigma,trace,fisher_rao,lambda_max" {
		t.Fatalf("oriented order %v", names)
	}
	for _, o := range oriented[:2] {
		if o.Tau != 1 || o.Psi != 1 || o.TauCI.Lo != 1 || o.TauCI.Hi != 1 || o.Robust.Worst != 1 || o.Robust.Failing != 0 || o.Robust.Environments != 6 || o.N != 12 {
			t.Errorf("%s: %+v", o.Metric, o)
		}
	}
	if fr := oriented[2]; fr.Tau != -1 || fr.TauCI.Hi != -1 || fr.Robust.Worst != -1 || fr.Robust.Failing != 6 || !fr.Aware {
		t.Errorf("fisher_rao: %+v", fr)
	}
	if lm := oriented[3]; !math.IsNaN(lm.Tau) || lm.Aware {
		t.Errorf("lambda_max: %+v", lm)
	}
	raw, aware := sums[0], sums[1]
	// λ₁, constant, ties every pair: its worst score 0 is not robust.
	if raw.Aware || raw.Measures != 2 || raw.Predictive != 1 || raw.Reversed != 0 || raw.Best != "trace" || raw.BestTau != 1 || raw.MedianTau != 1 ||
		raw.Robust != 1 || raw.Scored != 2 {
		t.Errorf("raw: %+v", raw)
	}
	if !aware.Aware || aware.Measures != 2 || aware.Predictive != 1 || aware.Reversed != 1 || aware.Best != "pac_bayes_sigma" || aware.MedianTau != 0 ||
		aware.Robust != 1 || aware.Scored != 2 {
		t.Errorf("aware: %+v", aware)
	}
}

// TestAnalyzeMeasureClasses: Analyze stores the comparison and both outputs
// carry it — the text table's section with a row per classified measure and
// a note per class, the JSON under measure_classes.
func TestAnalyzeMeasureClasses(t *testing.T) {
	a := Analyze("classes", PointsFromRecords(classRecords()))
	if len(a.Classes.Scores) != 4 || len(a.Classes.Summaries) != 2 {
		t.Fatalf("classes %+v", a.Classes)
	}
	var text bytes.Buffer
	if err := WriteAnalysisTable(&text, a); err != nil {
		t.Fatal(err)
	}
	out := text.String()
	i := strings.Index(out, "== Raw against reparametrization-aware measures")
	if i < 0 {
		t.Fatalf("no section:\n%s", out)
	}
	section := out[i:]
	for _, want := range []string{"pac_bayes_sigma  pac_bayes", "aware (nearly invariant)", "-1 ", "trace", "raw (not invariant)",
		"Raw measures: 2; median oriented τ 1; 1 with a τ interval above 0, 0 below; best trace (τ 1)",
		"Reparametrization-aware measures: 2; median oriented τ 0; 1 with a τ interval above 0, 1 below; best pac_bayes_sigma (τ 1); 1 of 2 scored in environments score above 0 in every one."} {
		if !strings.Contains(section, want) {
			t.Errorf("section lacks %q:\n%s", want, section)
		}
	}
	if strings.Contains(section, "trace_se") || strings.Contains(section, "custom_metric") {
		t.Errorf("auxiliary or unknown metric in the section:\n%s", section)
	}
	var js bytes.Buffer
	if err := WriteAnalysisJSON(&js, a); err != nil {
		t.Fatal(err)
	}
	var decoded struct {
		Classes struct {
			Scores []struct {
				Class struct {
					Metric     string `json:"metric"`
					Invariance string `json:"invariance"`
					Direction  int    `json:"direction"`
				} `json:"class"`
				Tau float64 `json:"tau"`
			} `json:"scores"`
			Summaries []ClassSummary `json:"summaries"`
		} `json:"measure_classes"`
	}
	if err := json.Unmarshal(js.Bytes(), &decoded); err != nil {
		t.Fatal(err)
	}
	if s := decoded.Classes.Scores; len(s) != 4 || s[0].Class.Metric != "pac_bayes_sigma" || s[0].Class.Direction != -1 || s[0].Tau != 1 || s[0].Class.Invariance != "nearly invariant" {
		t.Errorf("json scores %+v", s)
	}
}
