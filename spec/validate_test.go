package spec_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// checkField checks that err is a *spec.FieldError for field whose message
// names the field and its value ("field = value").
func checkField(t *testing.T, what, field string, err error) {
	t.Helper()
	fe := fieldError(t, what, err)
	if fe == nil {
		return
	}
	if fe.Field != field || !strings.Contains(err.Error(), field+" = ") {
		t.Errorf("%s: err = %v (field %q), want field %q", what, err, fe.Field, field)
	}
}

// TestValidate: every field of the original spec is checked, and the error
// names it and its value. (RunTrial returning the same error is tested in
// package compute.)
func TestValidate(t *testing.T) {
	if err := smallSpec().Validate(); err != nil {
		t.Fatalf("valid spec rejected: %v", err)
	}
	for _, c := range []struct {
		field  string
		mutate func(*spec.Trial)
	}{
		{"dataset.name", func(s *spec.Trial) { s.Dataset.Name = "imagenet" }},
		{"dataset.n", func(s *spec.Trial) { s.Dataset.N = 0 }},
		{"dataset.n_test", func(s *spec.Trial) { s.Dataset.NTest = -1 }},
		{"dataset.n_test", func(s *spec.Trial) { s.Dataset.NTest = math.MaxInt }},
		{"dataset.features", func(s *spec.Trial) { s.Dataset.Features = -3 }},
		{"dataset.features", func(s *spec.Trial) { s.Dataset.Features = 65537 }},
		{"dataset.classes", func(s *spec.Trial) { s.Dataset.Classes = 1 }},
		{"dataset.label_noise", func(s *spec.Trial) { s.Dataset.LabelNoise = math.NaN() }},
		{"dataset.label_noise", func(s *spec.Trial) { s.Dataset.LabelNoise = 1.1 }},
		{"model.arch", func(s *spec.Trial) { s.Model.Arch = "cnn" }},
		// "" is now the default activation (relu); an unknown one is an error.
		{"model.activation", func(s *spec.Trial) { s.Model.Activation = "sigmoid" }},
		{"model.hidden[1]", func(s *spec.Trial) { s.Model.Hidden = []int{4, 0} }},
		{"model.hidden", func(s *spec.Trial) { s.Model.Hidden = []int{65536, 65536, 65536} }},
		{"batch_size", func(s *spec.Trial) { s.BatchSize = 0 }},
		{"batch_size", func(s *spec.Trial) { s.BatchSize = 257 }},
		{"lr", func(s *spec.Trial) { s.LR = 0 }},
		{"lr", func(s *spec.Trial) { s.LR = math.Inf(1) }},
		{"lr", func(s *spec.Trial) { s.LR = math.NaN() }},
		{"epochs", func(s *spec.Trial) { s.Epochs = 0 }},
		{"curvature.examples", func(s *spec.Trial) { s.Curvature.Examples = 257 }},
		{"curvature.lanczos_steps", func(s *spec.Trial) { s.Curvature.LanczosSteps = -1 }},
		{"curvature.lanczos_steps", func(s *spec.Trial) { s.Curvature.LanczosSteps = spec.MaxLanczosSteps + 1 }},
		{"curvature.tol", func(s *spec.Trial) { s.Curvature.Tol = -1e-3 }},
	} {
		s := smallSpec()
		c.mutate(&s)
		checkField(t, c.field, c.field, s.Validate())
	}
	s := smallSpec()
	s.Model.Activation = ""
	if err := s.Validate(); err != nil {
		t.Errorf("default activation rejected: %v", err)
	}
}

// TestValidateNewFields: every new field is checked, and the error names it.
func TestValidateNewFields(t *testing.T) {
	cases := []struct {
		field  string
		mutate func(*spec.Trial)
	}{
		{"steps", func(s *spec.Trial) { s.Steps = 10 }},
		{"steps", func(s *spec.Trial) { s.Epochs, s.Steps = 0, -1 }},
		{"epochs", func(s *spec.Trial) { s.Epochs = -1 }},
		{"epochs", func(s *spec.Trial) { s.Epochs, s.Steps = 0, 0 }},
		{"weight_decay", func(s *spec.Trial) { s.WeightDecay = -1 }},
		{"weight_decay", func(s *spec.Trial) { s.WeightDecay = math.NaN() }},
		{"model.loss", func(s *spec.Trial) { s.Model.Loss = "hinge" }},
		{"model.width", func(s *spec.Trial) { s.Model.Width = 3 }},
		{"model.blocks", func(s *spec.Trial) { s.Model.Blocks = 1 }},
		{"model.conv", func(s *spec.Trial) { s.Model.Conv = []int{4} }},
		{"model.hidden", func(s *spec.Trial) {
			s.Model = spec.Model{Arch: "resmlp", Width: 4, Hidden: []int{3}, Activation: "relu"}
		}},
		{"model.width", func(s *spec.Trial) { s.Model = spec.Model{Arch: "resmlp", Activation: "relu"} }},
		{"model.blocks", func(s *spec.Trial) {
			s.Model = spec.Model{Arch: "resmlp", Width: 4, Blocks: -1, Activation: "relu"}
		}},
		{"model.width", func(s *spec.Trial) {
			s.Model = spec.Model{Arch: "resmlp", Width: 65536, Blocks: 100, Activation: "relu"}
		}},
		{"model.arch", func(s *spec.Trial) {
			s.Model = spec.Model{Arch: "cnn", Conv: []int{4}, Activation: "relu"}
		}},
		{"model.conv", func(s *spec.Trial) { *s = idxSpec("d"); s.Model.Conv = nil }},
		{"model.conv[1]", func(s *spec.Trial) { *s = idxSpec("d"); s.Model.Conv = []int{4, 0} }},
		// 28 → 14 → 7 → 3 → 1: the fifth stage has no 2×2 image to pool (the
		// error now names the stage).
		{"model.conv[4]", func(s *spec.Trial) { *s = idxSpec("d"); s.Model.Conv = []int{1, 1, 1, 1, 1} }},
		{"optimizer.name", func(s *spec.Trial) { s.Optimizer.Name = "lbfgs" }},
		{"optimizer.momentum", func(s *spec.Trial) { s.Optimizer.Momentum = 1 }},
		{"optimizer.momentum", func(s *spec.Trial) { s.Optimizer.Momentum = -0.1 }},
		{"optimizer.momentum", func(s *spec.Trial) { s.Optimizer = spec.Optimizer{Name: "adam", Momentum: 0.9} }},
		{"optimizer.nesterov", func(s *spec.Trial) { s.Optimizer.Nesterov = true }},
		{"optimizer.beta1", func(s *spec.Trial) { s.Optimizer = spec.Optimizer{Name: "adam", Beta1: 1} }},
		{"optimizer.beta2", func(s *spec.Trial) { s.Optimizer = spec.Optimizer{Name: "adam", Beta2: -0.5} }},
		{"optimizer.eps", func(s *spec.Trial) { s.Optimizer = spec.Optimizer{Name: "adam", Eps: math.Inf(1)} }},
		{"optimizer.beta1", func(s *spec.Trial) { s.Optimizer.Beta1 = 0.9 }},
		{"optimizer.eps", func(s *spec.Trial) { s.Optimizer.Eps = 1e-8 }},
		{"schedule.lr.kind", func(s *spec.Trial) { s.Schedule.LR.Kind = "exp" }},
		{"schedule.lr.milestones", func(s *spec.Trial) { s.Schedule.LR = spec.LRSchedule{Kind: "step", Gamma: 0.1} }},
		{"schedule.lr.milestones", func(s *spec.Trial) { s.Schedule.LR.Milestones = []int{1} }},
		{"schedule.lr.milestones[1]", func(s *spec.Trial) {
			s.Schedule.LR = spec.LRSchedule{Kind: "step", Milestones: []int{2, 2}, Gamma: 0.1}
		}},
		{"schedule.lr.milestones[0]", func(s *spec.Trial) {
			s.Schedule.LR = spec.LRSchedule{Kind: "step", Milestones: []int{0}, Gamma: 0.1}
		}},
		{"schedule.lr.gamma", func(s *spec.Trial) { s.Schedule.LR = spec.LRSchedule{Kind: "step", Milestones: []int{1}} }},
		{"schedule.lr.gamma", func(s *spec.Trial) { s.Schedule.LR.Gamma = 0.5 }},
		{"schedule.lr.floor", func(s *spec.Trial) { s.Schedule.LR = spec.LRSchedule{Kind: "cosine", Floor: 1.5} }},
		{"schedule.lr.floor", func(s *spec.Trial) { s.Schedule.LR.Floor = 0.1 }},
		{"schedule.batch.factor", func(s *spec.Trial) {
			s.Schedule.Batch = spec.BatchSchedule{Milestones: []int{1}, Factor: 1}
		}},
		{"schedule.batch.milestones", func(s *spec.Trial) { s.Schedule.Batch.Factor = 2 }},
		{"schedule.batch.milestones[1]", func(s *spec.Trial) {
			s.Schedule.Batch = spec.BatchSchedule{Milestones: []int{3, 1}, Factor: 2}
		}},
		{"augment.shift", func(s *spec.Trial) { s.Augment.Shift = 1 }},
		{"augment.shift", func(s *spec.Trial) { *s = idxSpec("d"); s.Augment.Shift = -1 }},
		{"augment.shift", func(s *spec.Trial) { *s = idxSpec("d"); s.Augment.Shift = 28 }},
		{"warm_start.sha256", func(s *spec.Trial) { s.WarmStart.SHA256 = strings.Repeat("a", 64) }},
		{"warm_start.sha256", func(s *spec.Trial) { s.WarmStart = spec.WarmStart{Path: "w", SHA256: "ABC"} }},
		{"dataset.dir", func(s *spec.Trial) { s.Dataset.Dir = "d" }},
		{"dataset.standardize", nil}, // valid: standardize applies to every dataset
		{"dataset.train_images", func(s *spec.Trial) { s.Dataset.TrainImages = "x" }},
		{"dataset.train_batches", func(s *spec.Trial) { s.Dataset.TrainBatches = []string{"x"} }},
		{"dataset.features", func(s *spec.Trial) { *s = idxSpec("d"); s.Dataset.Features = 10 }},
		{"dataset.classes", func(s *spec.Trial) { *s = idxSpec("d"); s.Dataset.Classes = 10 }},
		{"dataset.train_images", func(s *spec.Trial) { *s = idxSpec(""); s.Dataset.TrainLabels = "l" }},
		{"dataset.train_labels", func(s *spec.Trial) { *s = idxSpec(""); s.Dataset.TrainImages = "i" }},
		{"dataset.test_labels", func(s *spec.Trial) {
			*s = idxSpec("")
			s.Dataset.TrainImages, s.Dataset.TrainLabels, s.Dataset.TestImages = "i", "l", "ti"
		}},
		{"dataset.test_images", func(s *spec.Trial) {
			*s = idxSpec("")
			s.Dataset.TrainImages, s.Dataset.TrainLabels, s.Dataset.TestLabels = "i", "l", "tl"
		}},
		{"dataset.train_images", func(s *spec.Trial) { *s = idxSpec("d"); s.Dataset.TrainImages = "i" }},
		{"dataset.train_batches", func(s *spec.Trial) { *s = idxSpec("d"); s.Dataset.Name = "cifar10"; s.Dataset.Dir = "" }},
		{"dataset.train_batches", func(s *spec.Trial) {
			*s = idxSpec("d")
			s.Dataset.Name = "cifar10"
			s.Dataset.TrainBatches = []string{"b"}
		}},
		{"dataset.test_batches[0]", func(s *spec.Trial) {
			*s = idxSpec("")
			s.Dataset.Name, s.Dataset.TrainBatches, s.Dataset.TestBatches = "cifar10", []string{"b"}, []string{""}
		}},
		{"dataset.n", func(s *spec.Trial) { *s = idxSpec("d"); s.Dataset.Name = "cifar10"; s.Dataset.N = 90000 }},
		// New with content identity: the dataset digest.
		{"dataset.sha256", func(s *spec.Trial) { *s = idxSpec("d"); s.Dataset.SHA256 = "ABC" }},
		{"dataset.sha256", func(s *spec.Trial) { s.Dataset.SHA256 = strings.Repeat("a", 64) }},
	}
	for _, c := range cases {
		s := smallSpec()
		if c.mutate == nil {
			s.Dataset.Standardize = true
			if err := s.Validate(); err != nil {
				t.Errorf("%s: valid spec rejected: %v", c.field, err)
			}
			continue
		}
		c.mutate(&s)
		checkField(t, c.field, c.field, s.Validate())
	}
	for _, name := range []string{"mnist", "fashion-mnist", "kmnist"} {
		s := idxSpec("d")
		s.Dataset.Name = name
		if err := s.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	s := idxSpec("d")
	s.Dataset.Name = "cifar10"
	if err := s.Validate(); err != nil {
		t.Errorf("cifar10: %v", err)
	}
	s = idxSpec("d")
	s.Dataset.SHA256 = strings.Repeat("0123456789abcdef", 4)
	if err := s.Validate(); err != nil {
		t.Errorf("dataset digest: %v", err)
	}
}

// TestMeasureValidation: every measure setting is checked (ranges, enums and
// the measures' own checks against the architecture), and the error names
// the field by its path.
func TestMeasureValidation(t *testing.T) {
	type (
		topK     = spec.TopKSettings
		trace    = spec.TraceSettings
		density  = spec.DensitySettings
		evidence = spec.EvidenceSettings
		keskar   = spec.KeskarSettings
		adaptive = spec.AdaptiveSettings
		relative = spec.RelativeSettings
		pacBayes = spec.PACBayesSettings
	)
	cases := []struct {
		field string
		mut   func(c *spec.Curvature)
	}{
		{"curvature.top_k.k", edit(func(s *topK) { s.K = 52 })},
		{"curvature.top_k.k", edit(func(s *topK) { s.K = -1 })},
		{"curvature.top_k.negative", edit(func(s *topK) { s.Negative = 60 })},
		{"curvature.top_k.negative", edit(func(s *topK) { s.Negative = -1 })},
		{"curvature.top_k.tol", edit(func(s *topK) { s.Tol = -1e-3 })},
		{"curvature.top_k.tol", edit(func(s *topK) { s.Tol = math.Inf(1) })},
		{"curvature.top_k.steps", edit(func(s *topK) { s.Steps = -2 })},
		{"curvature.trace.method", edit(func(s *trace) { s.Method = "exact" })},
		{"curvature.trace.budget", edit(func(s *trace) { s.Budget = 2 })},
		{"curvature.trace.budget", edit(func(s *trace) { s.Budget = -1 })},
		{"curvature.trace.rel_err", edit(func(s *trace) { s.RelErr = math.NaN() })},
		{"curvature.density.runs", edit(func(s *density) { s.Runs = -1 })},
		{"curvature.density.steps", edit(func(s *density) { s.Steps = spec.MaxLanczosSteps + 1 })},
		{"curvature.evidence.lambda", edit(func(s *evidence) { s.Lambda = -1 })},
		{"curvature.evidence.operator", edit(func(s *evidence) { s.Operator = "fisher" })},
		{"curvature.keskar.epsilons[1]", edit(func(s *keskar) { s.Epsilons = []float64{1e-3, -1} })},
		{"curvature.keskar.epsilons[1]", edit(func(s *keskar) { s.Epsilons = []float64{1e-3, 1e-3} })},
		// A zero box size is no longer an end marker of a fixed array but an
		// invalid ε at its own index.
		{"curvature.keskar.epsilons[1]", edit(func(s *keskar) { s.Epsilons = []float64{1e-3, 0, 1e-2} })},
		{"curvature.keskar.epsilons", edit(func(s *keskar) { s.Epsilons = []float64{1, 2, 3, 4, 5} })},
		{"curvature.keskar.space", edit(func(s *keskar) { s.Space = "half" })},
		{"curvature.keskar.subspace", edit(func(s *keskar) { s.Subspace = 52 })},
		{"curvature.keskar.subspace", edit(func(s *keskar) { s.Space, s.Subspace = "full", 5 })},
		{"curvature.adaptive.rho", edit(func(s *adaptive) { s.Rho = -0.1 })},
		{"curvature.adaptive.norm", edit(func(s *adaptive) { s.Norm = "l1" })},
		{"curvature.adaptive.samples", edit(func(s *adaptive) { s.Samples = 1 })},
		{"curvature.relative.layer", edit(func(s *relative) { s.Layer = 3 })},
		{"curvature.relative.budget", edit(func(s *relative) { s.Exact, s.Budget = true, 10 })},
		{"curvature.relative.budget", edit(func(s *relative) { s.Budget = 1 })},
		{"curvature.pac_bayes.target", edit(func(s *pacBayes) { s.Target = 1.5 })},
		{"curvature.pac_bayes.steps", edit(func(s *pacBayes) { s.Steps = 1000 })},
	}
	if err := measureSpec().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		s := measureSpec()
		tc.mut(&s.Curvature)
		fe := fieldError(t, tc.field, s.Validate())
		if fe != nil && fe.Field != tc.field {
			t.Errorf("%s: %v", tc.field, fe)
		}
	}
	s := measureSpec()
	edit(func(f *spec.FisherRaoSettings) { f.ModelLabels = true })(&s.Curvature)
	if err := s.Validate(); err != nil {
		t.Errorf("model labels on an mlp with cross-entropy: %v", err)
	}
	s.Model = spec.Model{Arch: "resmlp", Width: 4, Blocks: 1, Activation: "relu"}
	if fe := fieldError(t, "model labels on resmlp", s.Validate()); fe != nil && fe.Field != "curvature.fisher_rao.model_labels" {
		t.Errorf("model labels on resmlp: %v", fe)
	}

	// A settings block for a measure that is not selected (which only JSON
	// can express) is an error of Validate; an unknown measure one of
	// decoding.
	s = measureSpec()
	s.Curvature.Measures = s.Curvature.Measures.Without("top_k")
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), `"measures":[`, `"top_k":{"k":3},"measures":[`, 1))
	back, err := spec.DecodeTrial(b)
	if err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	if fe := fieldError(t, "unselected block", back.Validate()); fe != nil && (fe.Field != "curvature.top_k" || !strings.Contains(fe.Problem, "not in curvature.measures")) {
		t.Errorf("unselected block: %v", fe)
	}
	var c spec.Curvature
	err = json.Unmarshal([]byte(`{"measures":["trace","hessian"]}`), &c)
	if fe := fieldError(t, "unknown measure", err); fe != nil && fe.Field != "curvature.measures[1]" {
		t.Errorf("unknown measure: %v", fe)
	}
}

// TestMeasureMessages: the tag checks name the setting by its full path and
// its value, and say what is allowed and what the default is.
func TestMeasureMessages(t *testing.T) {
	for _, c := range []struct {
		sel  any
		want string
	}{
		{spec.TopKSettings{K: -1}, "curvature.top_k.k = -1: must be in [1, 1048576] (0 or omitted: default 5)"},
		{spec.TopKSettings{Negative: -1}, "curvature.top_k.negative = -1: must be in [0, 1048576]"},
		{spec.TopKSettings{K: 52}, "curvature.top_k.k = 52: must be ≤ P = 51, the number of parameters"},
		{spec.TopKSettings{Tol: math.Inf(-1)}, "curvature.top_k.tol = -Inf: must be finite and > 0 (0 or omitted: default 1e-3)"},
		{spec.TraceSettings{Method: "exact"}, `curvature.trace.method = "exact": unknown value; expected "hutchpp", "hutchinson" or "krylov"`},
		{spec.TraceSettings{RelErr: math.NaN()}, "curvature.trace.rel_err = NaN: must be finite and ≥ 0"},
		{spec.DensitySettings{Steps: 10001}, "curvature.density.steps = 10001: must be in [1, 10000] (0 or omitted: default 30)"},
		{spec.EvidenceSettings{Operator: "fisher"}, `curvature.evidence.operator = "fisher": unknown value; expected "gauss_newton" or "hessian"`},
		{spec.KeskarSettings{Space: "half"}, `curvature.keskar.space = "half": unknown value; expected "both", "full" or "subspace"`},
		{spec.KeskarSettings{Epsilons: []float64{1e-3, -1}}, "curvature.keskar.epsilons[1] = -1: must be finite and > 0"},
		{spec.KeskarSettings{Epsilons: []float64{1e-3, 2e-3, 1e-3}}, "curvature.keskar.epsilons[2] = 0.001: duplicate of epsilons[0]"},
		{spec.AdaptiveSettings{Rho: -0.1}, "curvature.adaptive.rho = -0.1: must be finite and > 0 (0 or omitted: default 0.05)"},
		{spec.AdaptiveSettings{Samples: 1}, "curvature.adaptive.samples = 1: must be in [2, 1048576] (0 or omitted: default 20)"},
		{spec.RelativeSettings{Layer: 70000}, "curvature.relative.layer = 70000: must be in [0, 65536]"},
		{spec.RelativeSettings{Layer: 3}, "curvature.relative.layer = 3: must be in [0, 2] (Dense layers counted from 1 at the input; 0: the last)"},
		{spec.PACBayesSettings{Target: 1.5}, "curvature.pac_bayes.target = 1.5: must be finite and in (0, 1] (0 or omitted: default 0.1)"},
		{spec.PACBayesSettings{Steps: 1000}, "curvature.pac_bayes.steps = 1000: must be in [1, 200] (0 or omitted: default 20)"},
	} {
		s := measureSpec()
		s.Curvature.Measures = spec.MeasuresOf(c.sel)
		err := s.Validate()
		fieldError(t, c.want, err)
		if err == nil || err.Error() != c.want {
			t.Errorf("%+v:\n got %v\nwant %s", c.sel, err, c.want)
		}
	}
}

// TestDinhValidation checks the errors for bad α, a bad pair and networks
// without a Dense–ReLU–Dense pair, and that the zero value keeps the
// canonical form.
func TestDinhValidation(t *testing.T) {
	cases := []struct {
		edit     func(*spec.Trial)
		contains []string
	}{
		{func(s *spec.Trial) { s.Curvature.Dinh.Alpha = 1 }, []string{"curvature.dinh.alpha = 1", "identity"}},
		{func(s *spec.Trial) { s.Curvature.Dinh.Alpha = -2 }, []string{"curvature.dinh.alpha = -2", "> 0"}},
		{func(s *spec.Trial) { s.Curvature.Dinh.Alpha = math.Inf(1) }, []string{"curvature.dinh.alpha = +Inf", "finite"}},
		{func(s *spec.Trial) { s.Curvature.Dinh.Alpha = math.NaN() }, []string{"curvature.dinh.alpha = NaN"}},
		// A missing α is now reported as a missing field, without a value.
		{func(s *spec.Trial) { s.Curvature.Dinh = spec.Dinh{Layer: 1} }, []string{"curvature.dinh.alpha: required"}},
		{func(s *spec.Trial) { s.Curvature.Dinh.Layer = -1 }, []string{"curvature.dinh.layer = -1"}},
		{func(s *spec.Trial) { s.Curvature.Dinh.Layer = 2 }, []string{"curvature.dinh.layer = 2", "[0, 1]", "2 Dense–ReLU–Dense pairs"}},
		{func(s *spec.Trial) { s.Model.Activation = "tanh" }, []string{"curvature.dinh = {alpha: 10, layer: 1}", "no Dense–ReLU–Dense pair"}},
		{func(s *spec.Trial) {
			s.Model = spec.Model{Arch: "resmlp", Width: 4, Blocks: 1, Activation: "relu"}
			s.Curvature.Dinh.Layer = 0
		}, []string{"curvature.dinh", "no Dense–ReLU–Dense pair"}},
	}
	for i, tc := range cases {
		s := dinhSpec()
		tc.edit(&s)
		err := s.Validate()
		if fieldError(t, "dinh case", err) == nil {
			t.Errorf("case %d: %v", i, err)
			continue
		}
		for _, c := range tc.contains {
			if !strings.Contains(err.Error(), c) {
				t.Errorf("case %d: %q lacks %q", i, err, c)
			}
		}
	}
	ok := dinhSpec()
	ok.Model = spec.Model{Arch: "resmlp", Width: 4, Activation: "relu"}
	ok.Curvature.Dinh.Layer = 0
	if err := ok.Validate(); err != nil {
		t.Errorf("resmlp without blocks: %v", err)
	}
	s := dinhSpec()
	s.Curvature.Dinh = spec.Dinh{}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "dinh") {
		t.Errorf("canonical form without the check mentions it: %s", b)
	}
	if err := dinhSpec().Validate(); err != nil {
		t.Errorf("dinhSpec invalid: %v", err)
	}
}
