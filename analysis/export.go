package analysis

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/flatsweep/flatsweep/spec"
)

// ColumnKind is the type of an exported column.
type ColumnKind int

// Column kinds of a TrialTable.
const (
	// KindString is a text column.
	KindString ColumnKind = iota
	// KindInt is a 64-bit integer column.
	KindInt
	// KindFloat is a 64-bit floating-point column.
	KindFloat
	// KindBool is a boolean column.
	KindBool
)

// Column is a named, typed column of a TrialTable.
type Column struct {
	// Name is the column name.
	Name string
	// Kind is the column's type.
	Kind ColumnKind
}

// TrialTable is every trial of a sweep in tidy form, one row per trial and
// one column per identifier, axis and metric, for pandas, R or any other
// tool. A cell is a string, int64, float64 or bool matching its column's
// Kind, or nil for a missing value (no result yet, a diverged trial's
// curvature, a measure not recorded, a NaN).
type TrialTable struct {
	// Columns are the columns in order.
	Columns []Column
	// Rows holds one row per trial, in record order, aligned with Columns.
	Rows [][]any
}

// trialColumns are the fixed leading columns of TrialTables.
func trialColumns() []Column {
	return []Column{
		{"trial_id", KindString}, {"state", KindString}, {"status", KindString}, {"diverged", KindBool},
		{"error", KindString}, {"input_error", KindBool},
		{AxisSeed, KindInt}, {AxisB, KindInt}, {AxisLR, KindFloat}, {AxisN, KindInt}, {AxisMomentum, KindFloat},
		{"g", KindFloat}, {"optimizer", KindString}, {"weight_decay", KindFloat}, {"epochs", KindInt},
		{"max_steps", KindInt}, {"dataset", KindString}, {"arch", KindString},
		{MetricTrainAcc, KindFloat}, {MetricTestAcc, KindFloat}, {MetricTrainLoss, KindFloat},
		{MetricTestLoss, KindFloat}, {MetricGap, KindFloat}, {MetricLossGap, KindFloat},
		{MetricLambdaMax, KindFloat}, {"lambda_residual", KindFloat}, {"lambda_converged", KindBool},
		{"hvps", KindInt}, {"params", KindInt}, {"steps", KindInt},
		{"sam_rho", KindFloat}, {"sam_m", KindInt}, {"sam_adaptive", KindBool}, {"swa_start", KindInt}, {"gradients", KindInt},
		{"tracked_points", KindInt}, {"tracked_lambda_max", KindFloat}, {"stability_limit", KindFloat},
		{"target_reached", KindBool}, {"curvature_examples", KindInt}, {"external", KindBool},
		{"train_seconds", KindFloat}, {"curvature_seconds", KindFloat},
		{"curvature_hvps", KindInt}, {"curvature_gradients", KindInt}, {"curvature_losses", KindInt},
	}
}

// TrialTableFromRecords returns the TrialTable of records: the columns of
// the trial (trial_id; state as stored; status ok, diverged, failed or
// unfinished; diverged; error, the error of its last failed attempt, and
// input_error, whether that error is one of its input, which retrying does
// not mend — both missing when no attempt failed), its axes (seed, batch_size, lr, n, momentum) and noise scale
// g, a few settings (optimizer, weight_decay, epochs, max_steps — the step
// budget —, dataset, arch), the final metrics (accuracies, losses, gaps,
// lambda_max with its residual and convergence, hvps, params, steps taken),
// the SAM and SWA settings (sam_rho, sam_m, sam_adaptive, swa_start) with
// the gradient evaluations training took (gradients, missing in results
// stored before they were counted), λ₁ along training (tracked_points, and
// the last point's tracked_lambda_max and stability_limit; missing without
// curvature.track), target_reached (whether training stopped at the fit
// target of train.stop; missing without one), curvature_examples (the
// number of training examples the curvature was taken over; missing in
// results stored before it was recorded), external (whether the result
// came from an external program, a command trial, whose metrics flatsweep
// cannot promise to be bit-identical across retries; missing without a
// result), where the trial's time went
// (train_seconds and curvature_seconds, and curvature_hvps,
// curvature_gradients and curvature_losses summed over its costs; missing in
// results stored before costs were recorded), then one float column
// seconds_<name> per cost entry present in any result (spec.MeasureCost:
// seconds_hessian, seconds_top_k, …) and then one float column per flatness measure key present in any result,
// sorted by name (a key equal to a fixed column name gets the prefix
// "measure_").
func TrialTableFromRecords(recs []Record) TrialTable {
	cols := trialColumns()
	var keys []string
	for _, r := range recs {
		if r.Result == nil {
			continue
		}
		for k := range r.Result.Measures {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	var costKeys []string
	for _, r := range recs {
		if r.Result == nil {
			continue
		}
		for _, c := range r.Result.Costs {
			if !slices.Contains(costKeys, c.Measure) {
				costKeys = append(costKeys, c.Measure)
			}
		}
	}
	for _, k := range costKeys {
		cols = append(cols, Column{"seconds_" + k, KindFloat})
	}
	for _, k := range keys {
		name := k
		if slices.ContainsFunc(cols, func(c Column) bool { return c.Name == name }) {
			name = "measure_" + k
		}
		cols = append(cols, Column{name, KindFloat})
	}
	points := PointsFromRecords(recs)
	t := TrialTable{Columns: cols, Rows: make([][]any, 0, len(recs))}
	for i, r := range recs {
		p := points[i]
		s := r.Spec
		opt := s.Optimizer.Name
		if opt == "" {
			opt = "sgd"
		}
		var errCell, inputCell any
		if r.Error != "" {
			errCell, inputCell = r.Error, r.Permanent
		}
		row := []any{r.TrialID, r.State, p.Status.String(), r.Result != nil && r.Result.Diverged, errCell, inputCell,
			s.Seed, int64(s.BatchSize), fcell(s.LR), int64(s.Dataset.N), fcell(s.Optimizer.Momentum),
			fcell(p.NoiseScale()), opt, fcell(s.WeightDecay), int64(s.Epochs), int64(s.Steps), s.Dataset.Name, s.Model.Arch}
		for _, m := range []string{MetricTrainAcc, MetricTestAcc, MetricTrainLoss, MetricTestLoss, MetricGap, MetricLossGap, MetricLambdaMax} {
			row = append(row, fcell(p.Metric(m)))
		}
		if res := r.Result; res != nil && res.CurvatureMeasured() {
			row = append(row, fcell(res.LambdaResidual), res.LambdaConverged)
		} else {
			row = append(row, nil, nil)
		}
		if res := r.Result; res != nil {
			row = append(row, int64(res.HVPs), int64(res.Params), int64(res.Steps))
		} else {
			row = append(row, nil, nil, nil)
		}
		row = append(row, fcell(s.SAM.Rho), int64(s.SAM.M), s.SAM.Adaptive, int64(s.SWA.Start))
		if res := r.Result; res != nil && res.Gradients > 0 {
			row = append(row, int64(res.Gradients))
		} else {
			row = append(row, nil)
		}
		if res := r.Result; res != nil && len(res.Sharpness) > 0 {
			last := res.Sharpness[len(res.Sharpness)-1]
			limit := any(nil) // none for Adam
			if last.StabilityLimit > 0 {
				limit = fcell(last.StabilityLimit)
			}
			row = append(row, int64(len(res.Sharpness)), fcell(last.LambdaMax), limit)
		} else {
			row = append(row, nil, nil, nil)
		}
		if res := r.Result; res != nil && s.Stop.Enabled() {
			row = append(row, res.TargetReached)
		} else {
			row = append(row, nil)
		}
		if res := r.Result; res != nil && res.CurvatureExamples > 0 {
			row = append(row, int64(res.CurvatureExamples))
		} else {
			row = append(row, nil)
		}
		if res := r.Result; res != nil {
			row = append(row, res.External)
		} else {
			row = append(row, nil)
		}
		row = append(row, costCells(r.Result, costKeys)...)
		for _, k := range keys {
			v := math.NaN()
			if r.Result != nil {
				if x, ok := r.Result.Measures[k]; ok {
					v = x
				}
			}
			row = append(row, fcell(v))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// fcell returns x, or nil when x is NaN or ±Inf.
func fcell(x float64) any {
	if !finite(x) {
		return nil
	}
	return x
}

// WriteCSV writes t as CSV with a header line: floats in shortest
// round-trip form, booleans as true/false, a missing value as an empty cell.
func (t TrialTable) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	head := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		head[i] = c.Name
	}
	if err := cw.Write(head); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	rec := make([]string, len(t.Columns))
	for _, row := range t.Rows {
		for i, v := range row {
			rec[i] = csvCell(v)
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

func csvCell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

// ParquetSchema returns the Parquet schema of t: every column optional (a
// missing value is null), strings as UTF-8 byte arrays, integers as INT64,
// floats as DOUBLE and booleans as BOOLEAN, in the order of t.Columns. A
// comma in a column name, which Parquet struct tags cannot carry, becomes
// an underscore.
func (t TrialTable) ParquetSchema() *parquet.Schema {
	return parquet.SchemaOf(reflect.New(t.rowType()).Interface())
}

// rowType returns a struct type with one optional (pointer) field per
// column, tagged with the column name.
func (t TrialTable) rowType() reflect.Type {
	fields := make([]reflect.StructField, len(t.Columns))
	for i, c := range t.Columns {
		var typ reflect.Type
		switch c.Kind {
		case KindInt:
			typ = reflect.TypeFor[*int64]()
		case KindFloat:
			typ = reflect.TypeFor[*float64]()
		case KindBool:
			typ = reflect.TypeFor[*bool]()
		default:
			typ = reflect.TypeFor[*string]()
		}
		name := strings.ReplaceAll(c.Name, ",", "_")
		fields[i] = reflect.StructField{Name: "F" + strconv.Itoa(i), Type: typ,
			Tag: reflect.StructTag(`parquet:"` + strings.ReplaceAll(name, `"`, "_") + `,optional"`)}
	}
	return reflect.StructOf(fields)
}

// WriteParquet writes t as a Parquet file (see ParquetSchema), one row per
// trial, with the parquet-go library.
func (t TrialTable) WriteParquet(w io.Writer) error {
	typ := t.rowType()
	pw := parquet.NewWriter(w, parquet.SchemaOf(reflect.New(typ).Interface()))
	for n, row := range t.Rows {
		v := reflect.New(typ)
		s := v.Elem()
		for i, cell := range row {
			if i >= len(t.Columns) || cell == nil {
				continue
			}
			if err := setCell(s.Field(i), cell); err != nil {
				return fmt.Errorf("write parquet: row %d, column %s: %w", n, t.Columns[i].Name, err)
			}
		}
		if err := pw.Write(v.Interface()); err != nil {
			return fmt.Errorf("write parquet: row %d: %w", n, err)
		}
	}
	if err := pw.Close(); err != nil {
		return fmt.Errorf("write parquet: %w", err)
	}
	return nil
}

// setCell stores cell in the pointer field f, converting integers to int64.
func setCell(f reflect.Value, cell any) error {
	if i, ok := cell.(int); ok {
		cell = int64(i)
	}
	cv := reflect.ValueOf(cell)
	if cv.Type() != f.Type().Elem() {
		return fmt.Errorf("%T value in a %s column", cell, f.Type().Elem())
	}
	p := reflect.New(cv.Type())
	p.Elem().Set(cv)
	f.Set(p)
	return nil
}

// costCells returns the cells of a result's time and costs: train_seconds,
// curvature_seconds, the products, gradients and losses summed over its
// costs, and the seconds of each cost entry in keys (missing where the
// result has none; all missing without costs).
func costCells(res *spec.Result, keys []string) []any {
	cells := make([]any, 5+len(keys))
	if res == nil || res.Costs == nil {
		return cells
	}
	var hvps, grads, losses int
	secs := map[string]float64{}
	for _, c := range res.Costs {
		hvps, grads, losses = hvps+c.HVPs, grads+c.Gradients, losses+c.Losses
		secs[c.Measure] += c.Seconds
	}
	cells[0], cells[1] = fcell(res.TrainSeconds), fcell(res.CurvatureSeconds)
	cells[2], cells[3], cells[4] = int64(hvps), int64(grads), int64(losses)
	for i, k := range keys {
		if v, ok := secs[k]; ok {
			cells[5+i] = fcell(v)
		}
	}
	return cells
}
