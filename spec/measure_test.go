package spec_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// defaults are the settings every measure runs with when none is given: the
// reference values of the default tags (and Fill).
var defaults = map[string]any{
	"top_k":      spec.TopKSettings{K: 5, Tol: 1e-3, Steps: 100},
	"trace":      spec.TraceSettings{Method: "hutchpp", Budget: 99, Precision: "float64"},
	"density":    spec.DensitySettings{Runs: 5, Steps: 30},
	"evidence":   spec.EvidenceSettings{Lambda: 1, Operator: "gauss_newton", Runs: 5, Steps: 30},
	"keskar":     spec.KeskarSettings{Epsilons: []float64{1e-3, 5e-4}, Space: "both", Subspace: 100, Iterations: 10},
	"adaptive":   spec.AdaptiveSettings{Rho: 0.05, Norm: "l2", Iterations: 10, Samples: 20},
	"relative":   spec.RelativeSettings{Budget: 50},
	"fisher_rao": spec.FisherRaoSettings{},
	"pac_bayes":  spec.PACBayesSettings{Target: 0.1, Samples: 5, Steps: 20},
}

// TestMeasureDefaults: for every measure of the registry, the zero settings
// take the reference defaults, the defaults normalize back to zero and the
// round trip default → zero → default is exact; a value that is not the
// default survives both.
func TestMeasureDefaults(t *testing.T) {
	if got, want := spec.MeasureNames(), []string{"top_k", "trace", "density", "evidence", "keskar", "adaptive",
		"relative", "fisher_rao", "pac_bayes"}; !slices.Equal(got, want) {
		t.Fatalf("MeasureNames() = %v, want %v (the canonical order is part of every identity)", got, want)
	}
	for _, m := range spec.Registry() {
		want, ok := defaults[m.Name]
		if !ok {
			t.Errorf("%s: no reference defaults in this test", m.Name)
			continue
		}
		zero := m.Settings
		if !reflect.ValueOf(zero).IsZero() {
			t.Errorf("%s: Settings %+v is not a zero value", m.Name, zero)
		}
		d := m.WithDefaults(zero)
		if !reflect.DeepEqual(d, want) {
			t.Errorf("%s: WithDefaults(zero) = %+v, want %+v", m.Name, d, want)
		}
		n := m.Normalized(d)
		if !reflect.DeepEqual(n, zero) {
			t.Errorf("%s: Normalized(defaults) = %+v, want zero", m.Name, n)
		}
		if again := m.WithDefaults(n); !reflect.DeepEqual(again, d) {
			t.Errorf("%s: WithDefaults(Normalized(defaults)) = %+v, want %+v", m.Name, again, d)
		}
		if n := m.Normalized(zero); !reflect.DeepEqual(n, zero) {
			t.Errorf("%s: Normalized(zero) = %+v", m.Name, n)
		}
		// Every field with a default tag is filled; the others stay zero.
		dv := reflect.ValueOf(d)
		for i, f := range m.Fields() {
			if filled := !dv.Field(i).IsZero(); filled != (f.Default != "") && m.Name != "relative" {
				t.Errorf("%s.%s: default %q, filled %v", m.Name, f.Name, f.Default, filled)
			}
		}
	}
	if n := len(defaults); n != len(spec.Registry()) {
		t.Errorf("%d reference defaults for %d measures", n, len(spec.Registry()))
	}

	// Partial settings: only the defaults go.
	topK, _ := spec.LookupMeasure("top_k")
	if n := topK.Normalized(spec.TopKSettings{K: 5, Steps: 60, Tol: 1e-3}); n != (spec.TopKSettings{Steps: 60}) {
		t.Errorf("Normalized(k 5, steps 60, tol 1e-3) = %+v", n)
	}
	if d := topK.WithDefaults(spec.TopKSettings{K: 7, Negative: 2}); d != (spec.TopKSettings{K: 7, Negative: 2, Tol: 1e-3, Steps: 100}) {
		t.Errorf("WithDefaults(k 7, negative 2) = %+v", d)
	}
	keskar, _ := spec.LookupMeasure("keskar")
	k := spec.KeskarSettings{Epsilons: []float64{5e-4, 1e-3}, Space: "both"}
	if n := keskar.Normalized(k); !reflect.DeepEqual(n, spec.KeskarSettings{Epsilons: []float64{5e-4, 1e-3}}) {
		t.Errorf("Normalized(%+v) = %+v", k, n)
	}
	// relative: exact needs no budget, so none is filled in.
	relative, _ := spec.LookupMeasure("relative")
	if d := relative.WithDefaults(spec.RelativeSettings{Exact: true, Layer: 1}); d != (spec.RelativeSettings{Exact: true, Layer: 1}) {
		t.Errorf("WithDefaults(exact) = %+v", d)
	}
	if n := relative.Normalized(spec.RelativeSettings{Exact: true}); n != (spec.RelativeSettings{Exact: true}) {
		t.Errorf("Normalized(exact) = %+v", n)
	}

	// Measures.Normalized and SettingsOf.
	ms := spec.MeasuresOf(spec.TopKSettings{K: 5, Steps: 60}, spec.KeskarSettings{Epsilons: []float64{1e-3, 5e-4}})
	n := ms.Normalized()
	if s, _ := n.Settings("top_k"); s != (spec.TopKSettings{Steps: 60}) {
		t.Errorf("normalized top_k %+v", s)
	}
	if s, _ := n.Settings("keskar"); !reflect.DeepEqual(s, spec.KeskarSettings{}) {
		t.Errorf("normalized keskar %+v", s)
	}
	if s, _ := ms.Settings("top_k"); s != (spec.TopKSettings{K: 5, Steps: 60}) {
		t.Errorf("Normalized changed its receiver: %+v", s)
	}
	if s, ok := spec.SettingsOf[spec.KeskarSettings](n); !ok || !reflect.DeepEqual(s, defaults["keskar"]) {
		t.Errorf("SettingsOf[KeskarSettings] = %+v, %v", s, ok)
	}
	if s, ok := spec.SettingsOf[spec.TopKSettings](n); !ok || s != (spec.TopKSettings{K: 5, Tol: 1e-3, Steps: 60}) {
		t.Errorf("SettingsOf[TopKSettings] = %+v, %v", s, ok)
	}
	if s, ok := spec.SettingsOf[spec.TraceSettings](n); ok || s != (spec.TraceSettings{}) {
		t.Errorf("SettingsOf of an unselected measure = %+v, %v", s, ok)
	}
}

// TestMeasureRecords: the scalars each measure records for its defaults and
// for other settings, with "…" for long runs of numbered names.
func TestMeasureRecords(t *testing.T) {
	records := func(name string, s any) []string {
		m, err := spec.LookupMeasure(name)
		if err != nil {
			t.Fatal(err)
		}
		if s == nil {
			s = m.Settings
		}
		return m.Records(m.WithDefaults(s))
	}
	for _, c := range []struct {
		name     string
		settings any
		want     []string
	}{
		{"top_k", nil, []string{"lambda_1", "lambda_2", "…", "lambda_5", "top_k_converged"}},
		{"top_k", spec.TopKSettings{K: 4, Negative: 6}, []string{"lambda_1", "lambda_2", "lambda_3", "lambda_4", "top_k_converged",
			"lambda_min_1", "lambda_min_2", "…", "lambda_min_6", "lambda_min_converged"}},
		{"trace", nil, []string{"trace", "trace_se"}},
		{"density", nil, nil},
		{"evidence", nil, []string{"log_evidence", "log_occam", "log_occam_se", "log_det", "occam_clipped"}},
		{"keskar", nil, []string{"keskar_full_1e-3", "keskar_full_5e-4", "keskar_sub_1e-3", "keskar_sub_5e-4"}},
		{"keskar", spec.KeskarSettings{Space: "subspace", Epsilons: []float64{2.5e-3}}, []string{"keskar_sub_2.5e-3"}},
		{"keskar", spec.KeskarSettings{Space: "full"}, []string{"keskar_full_1e-3", "keskar_full_5e-4"}},
		{"adaptive", nil, []string{"adaptive_sharpness", "adaptive_sharpness_avg", "adaptive_sharpness_avg_se"}},
		{"adaptive", spec.AdaptiveSettings{Plain: true}, []string{"plain_sharpness", "plain_sharpness_avg", "plain_sharpness_avg_se"}},
		{"relative", nil, []string{"relative_flatness", "relative_flatness_se"}},
		{"relative", spec.RelativeSettings{Exact: true}, []string{"relative_flatness"}},
		{"fisher_rao", nil, []string{"fisher_rao"}},
		{"pac_bayes", nil, []string{"pac_bayes_sigma", "pac_bayes_flatness"}},
	} {
		if got := records(c.name, c.settings); !slices.Equal(got, c.want) {
			t.Errorf("%s %+v: Records = %q, want %q", c.name, c.settings, got, c.want)
		}
	}
	for eps, name := range map[float64]string{1e-3: "1e-3", 5e-4: "5e-4", 2.5e-3: "2.5e-3", 1: "1", 10: "1e1", 0.1: "1e-1", 1.5e10: "1.5e10"} {
		if got := spec.EpsilonName(eps); got != name {
			t.Errorf("EpsilonName(%g) = %q, want %q", eps, got, name)
		}
	}
}

// TestMeasuresOrder: every way of building a selection keeps the canonical
// order of the registry, whatever the order of the arguments, and a
// selection is immutable.
func TestMeasuresOrder(t *testing.T) {
	ms := spec.MeasuresOf(spec.PACBayesSettings{Steps: 6}, spec.TraceSettings{Budget: 30}, spec.TopKSettings{})
	if got := ms.Names(); !slices.Equal(got, []string{"top_k", "trace", "pac_bayes"}) || ms.String() != "top_k,trace,pac_bayes" || ms.Len() != 3 {
		t.Errorf("MeasuresOf: %v, %q, %d", got, ms.String(), ms.Len())
	}
	if s, ok := ms.Settings("trace"); !ok || s != (spec.TraceSettings{Budget: 30}) || !ms.Has("pac_bayes") || ms.Has("keskar") {
		t.Errorf("Settings(trace) = %+v, %v; Has(pac_bayes) %v, Has(keskar) %v", s, ok, ms.Has("pac_bayes"), ms.Has("keskar"))
	}
	sel, err := spec.SelectMeasures("pac_bayes", "keskar", "top_k", "density")
	if err != nil {
		t.Fatal(err)
	}
	if got := sel.Names(); !slices.Equal(got, []string{"top_k", "density", "keskar", "pac_bayes"}) {
		t.Errorf("SelectMeasures: %v", got)
	}
	for _, s := range sel.List() {
		if !reflect.DeepEqual(s.Settings, s.Measure.Settings) {
			t.Errorf("SelectMeasures: %s has settings %+v, want defaults (zero)", s.Measure.Name, s.Settings)
		}
	}
	if _, err := spec.SelectMeasures("trace", "trace"); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("SelectMeasures(trace, trace): %v", err)
	}
	if _, err := spec.SelectMeasures("hessian"); err == nil || !strings.Contains(err.Error(), `unknown measure "hessian"`) {
		t.Errorf("SelectMeasures(hessian): %v", err)
	}
	if none, err := spec.SelectMeasures(); err != nil || none.Len() != 0 || none.String() != "" {
		t.Errorf("SelectMeasures(): %v, %v", none, err)
	}

	evidence, _ := spec.LookupMeasure("evidence")
	with := ms.With(evidence, spec.EvidenceSettings{Runs: 2})
	if got := with.Names(); !slices.Equal(got, []string{"top_k", "trace", "evidence", "pac_bayes"}) {
		t.Errorf("With(evidence): %v", got)
	}
	trace, _ := spec.LookupMeasure("trace")
	replaced := with.With(trace, spec.TraceSettings{Method: "hutchinson"})
	if got := replaced.Names(); !slices.Equal(got, with.Names()) {
		t.Errorf("With(trace) again: %v", got)
	}
	if s, _ := replaced.Settings("trace"); s != (spec.TraceSettings{Method: "hutchinson"}) {
		t.Errorf("With(trace) kept %+v", s)
	}
	without := replaced.Without("top_k").Without("keskar")
	if got := without.Names(); !slices.Equal(got, []string{"trace", "evidence", "pac_bayes"}) {
		t.Errorf("Without(top_k): %v", got)
	}
	// The receivers are unchanged.
	if ms.String() != "top_k,trace,pac_bayes" || with.Len() != 4 || replaced.Len() != 4 {
		t.Errorf("receivers changed: %s, %s, %s", ms, with, replaced)
	}
	if s, _ := with.Settings("trace"); s != (spec.TraceSettings{Budget: 30}) {
		t.Errorf("With changed its receiver: %+v", s)
	}
	// Building the same selection in any order gives the same value.
	a := spec.MeasuresOf(spec.TopKSettings{K: 2}, spec.TraceSettings{}, spec.FisherRaoSettings{})
	b := spec.MeasuresOf(spec.FisherRaoSettings{}, spec.TopKSettings{K: 2}, spec.TraceSettings{})
	if !reflect.DeepEqual(a, b) {
		t.Errorf("order of arguments matters: %v vs %v", a, b)
	}

	mustPanic(t, "MeasuresOf(int)", func() { spec.MeasuresOf(3) })
	mustPanic(t, "With of the wrong settings type", func() { ms.With(trace, spec.TopKSettings{}) })
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", what)
		}
	}()
	f()
}

// TestCurvatureJSON: Curvature encodes its fields in declaration order, the
// measures as a list in canonical order and their non-default settings
// blocks, and decodes that back exactly; decoding is strict.
func TestCurvatureJSON(t *testing.T) {
	c := spec.Curvature{Measures: spec.MeasuresOf(spec.TraceSettings{}, spec.TopKSettings{}, spec.KeskarSettings{Epsilons: []float64{1e-3, 2e-3}})}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"lanczos_steps":0,"tol":0,"measures":["top_k","trace","keskar"],"keskar":{"epsilons":[0.001,0.002]}}`
	if string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
	var back spec.Curvature
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, c) {
		t.Errorf("round trip %+v, %v", back, err)
	}
	b, _ = json.Marshal(spec.Curvature{Examples: 3})
	if string(b) != `{"examples":3,"lanczos_steps":0,"tol":0}` {
		t.Errorf("zero measures not omitted: %s", b)
	}

	full := spec.Curvature{Examples: 64, LanczosSteps: 30, Tol: 1e-6,
		Measures: spec.MeasuresOf(spec.PACBayesSettings{Target: 0.05}, spec.TopKSettings{K: 3, Negative: 1}, spec.DensitySettings{},
			spec.AdaptiveSettings{Norm: "linf", Plain: true}, spec.FisherRaoSettings{IncludeBiases: true}),
		Dinh: spec.Dinh{Alpha: 4, Layer: 1}}
	b, err = json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	const wantFull = `{"examples":64,"lanczos_steps":30,"tol":0.000001,"measures":["top_k","density","adaptive","fisher_rao","pac_bayes"],` +
		`"top_k":{"k":3,"negative":1},"adaptive":{"norm":"linf","plain":true},"fisher_rao":{"include_biases":true},` +
		`"pac_bayes":{"target":0.05},"dinh":{"alpha":4,"layer":1}}`
	if string(b) != wantFull {
		t.Errorf("JSON\n %s\nwant\n %s", b, wantFull)
	}
	back = spec.Curvature{}
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, full) {
		t.Errorf("round trip %+v, %v", back, err)
	}
	// The order of the keys and of the list does not matter.
	var shuffled spec.Curvature
	if err := json.Unmarshal([]byte(`{"pac_bayes":{"target":0.05},"dinh":{"alpha":4,"layer":1},"fisher_rao":{"include_biases":true},`+
		`"measures":["pac_bayes","fisher_rao","adaptive","density","top_k"],"adaptive":{"norm":"linf","plain":true},`+
		`"top_k":{"k":3,"negative":1},"tol":1e-6,"lanczos_steps":30,"examples":64}`), &shuffled); err != nil || !reflect.DeepEqual(shuffled, full) {
		t.Errorf("shuffled: %+v, %v", shuffled, err)
	}

	for _, c := range []struct{ in, field, problem string }{
		{`{"measures":["trace","trace"]}`, "curvature.measures[1]", "twice"},
		{`{"measures":["hessian"]}`, "curvature.measures[0]", `unknown measure "hessian"`},
		{`{"lanczos":3}`, "curvature.lanczos", "unknown field"},
		{`{"measures":["top_k"],"top_k":{"kk":3}}`, "curvature.top_k", `unknown field "kk"`},
		{`{"measures":["top_k"],"top_k":{"k":"3"}}`, "curvature.top_k", "string"},
		{`{"dinh":{"alpha":2,"beta":3}}`, "curvature.dinh", `unknown field "beta"`},
		{`{"tol":"small"}`, "curvature.tol", "string"},
		{`[1]`, "curvature", "expected an object"},
	} {
		var got spec.Curvature
		err := json.Unmarshal([]byte(c.in), &got)
		fe := fieldError(t, c.in, err)
		if fe != nil && (fe.Field != c.field || !strings.Contains(fe.Problem, c.problem)) {
			t.Errorf("%s: %v, want field %s and %q", c.in, fe, c.field, c.problem)
		}
	}
	if fe := fieldError(t, "unknown measure value", json.Unmarshal([]byte(`{"measures":["hessian"]}`), &back)); fe != nil && fe.Value != `"hessian"` {
		t.Errorf("unknown measure: value %s", fe.Value)
	}
	// A trial with an unknown curvature field does not decode either.
	s := smallSpec()
	js, _ := json.Marshal(s)
	js = []byte(strings.Replace(string(js), `"curvature":{`, `"curvature":{"sharpness":1,`, 1))
	if _, err := spec.DecodeTrial(js); err == nil || !strings.Contains(err.Error(), "curvature.sharpness") {
		t.Errorf("DecodeTrial with an unknown curvature field: %v", err)
	}

	// A settings block that writes the defaults out decodes to those
	// settings and resolves to the identity of one that omits them.
	var explicit spec.Curvature
	if err := json.Unmarshal([]byte(`{"lanczos_steps":20,"tol":0.001,"measures":["top_k"],"top_k":{"k":5,"steps":100}}`), &explicit); err != nil {
		t.Fatal(err)
	}
	if s, _ := explicit.Measures.Settings("top_k"); s != (spec.TopKSettings{K: 5, Steps: 100}) {
		t.Errorf("explicit defaults decoded as %+v", s)
	}
	a, b2 := smallSpec(), smallSpec()
	a.Curvature, b2.Curvature = explicit, spec.Curvature{Measures: spec.MeasuresOf(spec.TopKSettings{})}
	if spec.ID(a.Resolved()) != spec.ID(b2.Resolved()) {
		ja, _ := spec.Canonical(a.Resolved())
		jb, _ := spec.Canonical(b2.Resolved())
		t.Errorf("explicit defaults change the identity:\n%s\n%s", ja, jb)
	}
}
