package sweeps

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/flatsweep/flatsweep/compute"
)

// MaxSpecBytes is the largest sweep file Load and Parse accept (1 MiB).
const MaxSpecBytes = 1 << 20

// MaxTrials is the largest number of trials one sweep may expand to: the
// product of the grid's axis lengths (see Grid.Len).
const MaxTrials = 2_000_000

// Defaults for optional fields, applied by Parse when a field is omitted or null.
const (
	DefaultFeatures     = 16     // dataset.features
	DefaultClasses      = 4      // dataset.classes
	DefaultActivation   = "relu" // model.activation
	DefaultLanczosSteps = 20     // curvature.lanczos_steps
	DefaultTol          = 1e-3   // curvature.tol
)

// Spec is a validated sweep with every default filled in: the fixed settings
// shared by all its trials and the grid over which they vary. Its JSON encoding
// (Canonical) is the stored form of the sweep.
type Spec struct {
	// Name is the sweep's identity: a slug [a-z0-9][a-z0-9._-]* of at most 64
	// characters.
	Name string `json:"name"`
	// Dataset is the data every trial trains and tests on.
	Dataset compute.DatasetSpec `json:"dataset"`
	// Model is the network every trial trains.
	Model compute.ModelSpec `json:"model"`
	// Train is the training budget.
	Train Train `json:"train"`
	// Curvature configures the curvature measures of every trial.
	Curvature compute.CurvatureSpec `json:"curvature"`
	// Grid lists the values of the swept axes.
	Grid Grid `json:"grid"`
}

// Train is the training budget and procedure shared by the trials of a sweep.
// Every field but Epochs is optional and omitted from the canonical form when
// zero, so sweeps that do not use them keep their canonical form and trial IDs.
type Train struct {
	// Epochs is the number of passes over the N training examples (> 0),
	// or 0 when the budget is given in Steps.
	Epochs int `json:"epochs"`
	// Steps is the budget in parameter updates, the alternative to Epochs.
	Steps int `json:"steps,omitempty"`
	// WeightDecay is the L2 coefficient λ (see compute.TrialSpec).
	WeightDecay float64 `json:"weight_decay,omitempty"`
	// Optimizer is the update rule (zero value: plain SGD).
	Optimizer compute.OptimizerSpec `json:"optimizer,omitzero"`
	// Schedule holds the learning-rate and batch-size schedules.
	Schedule compute.ScheduleSpec `json:"schedule,omitzero"`
	// Augment configures random-shift augmentation of image batches.
	Augment compute.AugmentSpec `json:"augment,omitzero"`
	// WarmStart starts every trial from saved weights.
	WarmStart compute.WarmStartSpec `json:"warm_start,omitzero"`
}

// Grid holds the axes of a sweep. Each axis is free of duplicates; the sweep
// runs every combination (see Spec.Expand). BatchSize, LR and Seed are
// required and non-empty; N, Momentum and WeightDecay are optional (an
// omitted axis takes its single value from the fixed settings: dataset.n,
// train.optimizer.momentum, train.weight_decay).
type Grid struct {
	// BatchSize lists the minibatch sizes B, each in 1…N.
	BatchSize []int `json:"batch_size"`
	// LR lists the learning rates ε, each finite and > 0.
	LR []float64 `json:"lr"`
	// Seed lists the trial seeds (initialization, batch order, probes).
	Seed []int64 `json:"seed"`
	// N lists training-set sizes (replacing dataset.n).
	N []int `json:"n,omitempty"`
	// Momentum lists SGD momenta m ∈ [0, 1) (replacing
	// train.optimizer.momentum).
	Momentum []float64 `json:"momentum,omitempty"`
	// WeightDecay lists L2 coefficients λ ≥ 0 (replacing train.weight_decay).
	WeightDecay []float64 `json:"weight_decay,omitempty"`
}

// Len returns the number of grid points, the product of the axis lengths
// (an omitted optional axis counts 1).
func (g Grid) Len() int {
	return len(g.BatchSize) * len(g.LR) * len(g.Seed) * max(len(g.N), 1) * max(len(g.Momentum), 1) * max(len(g.WeightDecay), 1)
}

// The YAML form of a sweep. Its field tags define the accepted keys.
type rawSpec struct {
	Name      string       `yaml:"name"`
	Dataset   rawDataset   `yaml:"dataset"`
	Model     rawModel     `yaml:"model"`
	Train     rawTrain     `yaml:"train"`
	Curvature rawCurvature `yaml:"curvature"`
	Grid      rawGrid      `yaml:"grid"`
}

type rawDataset struct {
	Name         string   `yaml:"name"`
	N            int      `yaml:"n"`
	NTest        int      `yaml:"n_test"`
	Features     int      `yaml:"features"`
	Classes      int      `yaml:"classes"`
	LabelNoise   float64  `yaml:"label_noise"`
	Seed         int64    `yaml:"seed"`
	Dir          string   `yaml:"dir"`
	TrainImages  string   `yaml:"train_images"`
	TrainLabels  string   `yaml:"train_labels"`
	TestImages   string   `yaml:"test_images"`
	TestLabels   string   `yaml:"test_labels"`
	TrainBatches []string `yaml:"train_batches"`
	TestBatches  []string `yaml:"test_batches"`
	Standardize  bool     `yaml:"standardize"`
}

type rawModel struct {
	Arch       string `yaml:"arch"`
	Hidden     []int  `yaml:"hidden"`
	Activation string `yaml:"activation"`
	Width      int    `yaml:"width"`
	Blocks     int    `yaml:"blocks"`
	Conv       []int  `yaml:"conv"`
	Loss       string `yaml:"loss"`
}

type rawTrain struct {
	Epochs      int          `yaml:"epochs"`
	Steps       int          `yaml:"steps"`
	WeightDecay float64      `yaml:"weight_decay"`
	Optimizer   rawOptimizer `yaml:"optimizer"`
	Schedule    rawSchedule  `yaml:"schedule"`
	Augment     rawAugment   `yaml:"augment"`
	WarmStart   rawWarmStart `yaml:"warm_start"`
}

type rawOptimizer struct {
	Name     string  `yaml:"name"`
	Momentum float64 `yaml:"momentum"`
	Nesterov bool    `yaml:"nesterov"`
	Beta1    float64 `yaml:"beta1"`
	Beta2    float64 `yaml:"beta2"`
	Eps      float64 `yaml:"eps"`
}

type rawSchedule struct {
	LR    rawLRSchedule    `yaml:"lr"`
	Batch rawBatchSchedule `yaml:"batch"`
}

type rawLRSchedule struct {
	Kind       string  `yaml:"kind"`
	Milestones []int   `yaml:"milestones"`
	Gamma      float64 `yaml:"gamma"`
	Floor      float64 `yaml:"floor"`
}

type rawBatchSchedule struct {
	Milestones []int `yaml:"milestones"`
	Factor     int   `yaml:"factor"`
}

type rawAugment struct {
	Shift int `yaml:"shift"`
}

type rawWarmStart struct {
	Path   string `yaml:"path"`
	SHA256 string `yaml:"sha256"`
}

type rawCurvature struct {
	Examples     int          `yaml:"examples"`
	LanczosSteps int          `yaml:"lanczos_steps"`
	Tol          float64      `yaml:"tol"`
	Measures     []string     `yaml:"measures"`
	TopK         rawTopK      `yaml:"top_k"`
	Trace        rawTrace     `yaml:"trace"`
	Density      rawDensity   `yaml:"density"`
	Evidence     rawEvidence  `yaml:"evidence"`
	Keskar       rawKeskar    `yaml:"keskar"`
	Adaptive     rawAdaptive  `yaml:"adaptive"`
	Relative     rawRelative  `yaml:"relative"`
	FisherRao    rawFisherRao `yaml:"fisher_rao"`
	PACBayes     rawPACBayes  `yaml:"pac_bayes"`
	Dinh         rawDinh      `yaml:"dinh"`
}

// rawDinh is Dinh's reparametrization check (see compute.DinhSpec).
type rawDinh struct {
	Alpha float64 `yaml:"alpha"`
	Layer int     `yaml:"layer"`
}

// The measure settings blocks (see the compute types of the same names).
type rawTopK struct {
	K        int     `yaml:"k"`
	Negative int     `yaml:"negative"`
	Tol      float64 `yaml:"tol"`
	Steps    int     `yaml:"steps"`
}

type rawTrace struct {
	Method string  `yaml:"method"`
	Budget int     `yaml:"budget"`
	RelErr float64 `yaml:"rel_err"`
}

type rawDensity struct {
	Runs  int `yaml:"runs"`
	Steps int `yaml:"steps"`
}

type rawEvidence struct {
	Lambda   float64 `yaml:"lambda"`
	Operator string  `yaml:"operator"`
	Runs     int     `yaml:"runs"`
	Steps    int     `yaml:"steps"`
}

type rawKeskar struct {
	Epsilons   []float64 `yaml:"epsilons"`
	Space      string    `yaml:"space"`
	Subspace   int       `yaml:"subspace"`
	Iterations int       `yaml:"iterations"`
}

type rawAdaptive struct {
	Rho        float64 `yaml:"rho"`
	Norm       string  `yaml:"norm"`
	Plain      bool    `yaml:"plain"`
	Iterations int     `yaml:"iterations"`
	Samples    int     `yaml:"samples"`
}

type rawRelative struct {
	Layer  int  `yaml:"layer"`
	Exact  bool `yaml:"exact"`
	Budget int  `yaml:"budget"`
}

type rawFisherRao struct {
	ModelLabels   bool `yaml:"model_labels"`
	IncludeBiases bool `yaml:"include_biases"`
}

type rawPACBayes struct {
	Target  float64 `yaml:"target"`
	Samples int     `yaml:"samples"`
	Steps   int     `yaml:"steps"`
}

type rawGrid struct {
	BatchSize   []int     `yaml:"batch_size"`
	LR          []float64 `yaml:"lr"`
	Seed        []int64   `yaml:"seed"`
	N           []int     `yaml:"n"`
	Momentum    []float64 `yaml:"momentum"`
	WeightDecay []float64 `yaml:"weight_decay"`
}

// Load reads and parses the sweep file at path. A file that cannot be read
// yields an error wrapping the os error (errors.Is(err, fs.ErrNotExist) for a
// missing file) whose message names the path; a bad spec yields an error
// wrapping ErrInvalid.
func Load(path string) (*Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read sweep spec: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSpecBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read sweep spec %s: %w", path, err)
	}
	return Parse(data, path)
}

// Parse decodes, checks and validates a sweep spec, filling in the defaults of
// omitted optional fields. source names the spec in error messages (a file
// path, or "" for "<input>"). Every error wraps ErrInvalid; the problems are
// *FieldError values, several joined with errors.Join.
func Parse(data []byte, source string) (*Spec, error) {
	if source == "" {
		source = "<input>"
	}
	if len(data) > MaxSpecBytes {
		return nil, &FieldError{Source: source, Problem: fmt.Sprintf("file larger than %d bytes", MaxSpecBytes)}
	}
	root, err := parseNode(data, source)
	if err != nil {
		return nil, err
	}
	sc := newSchema(source)
	sc.walk(root, reflect.TypeFor[rawSpec](), "")
	if err := sc.err(); err != nil {
		return nil, err
	}
	// The schema check has vetted the document; decode it with yaml.v3's own
	// unknown-field check as a second line of defence.
	var raw rawSpec
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		return nil, yamlError(source, err)
	}
	v := &validator{schema: sc}
	spec := v.resolve(&raw)
	if err := v.err(); err != nil {
		return nil, err
	}
	return spec, nil
}

// parseNode parses data into a YAML node tree holding exactly one document.
func parseNode(data []byte, source string) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &FieldError{Source: source, Problem: "empty document; expected a sweep spec mapping"}
		}
		return nil, yamlError(source, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, yamlError(source, err)
		}
		return nil, &FieldError{Source: source, Line: extra.Line, Problem: "more than one YAML document; expected exactly one sweep spec"}
	}
	if len(doc.Content) != 1 || isNull(doc.Content[0]) {
		return nil, &FieldError{Source: source, Problem: "empty document; expected a sweep spec mapping"}
	}
	return doc.Content[0], nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError wraps a yaml.v3 error as a FieldError, lifting out its line.
func yamlError(source string, err error) error {
	e := &FieldError{Source: source, Problem: "malformed YAML: " + err.Error(), Err: err}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Problem = "malformed YAML: " + m[2]
	}
	return e
}

// Canonical returns the sweep's canonical form: the JSON encoding of the
// resolved spec (defaults filled in, fields in declaration order, floats in
// shortest round-trip form). Two files declaring the same sweep, however
// formatted, have the same canonical form.
func (s *Spec) Canonical() ([]byte, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("sweep %q: canonical form: %w", s.Name, err)
	}
	return b, nil
}
