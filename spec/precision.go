package spec

import "fmt"

// Values of Training.Precision.
const (
	PrecisionFloat64 = "float64"
	PrecisionFloat32 = "float32"
)

// validatePrecision checks the training precision: "float64" (or "") or
// "float32", the latter only for what the float32 trainer implements (an
// mlp without batch normalization or dropout, trained without SAM). A
// command trial's program trains the model itself: the precision is its
// placeholder {precision} and is not checked further.
func (t Trial) validatePrecision() error {
	p := t.Precision
	switch {
	case p == "" || p == PrecisionFloat64:
		return nil
	case p != PrecisionFloat32:
		return invalid("precision", p, `unknown precision; expected "float64" (the default) or "float32"`)
	case t.IsCommand():
		return nil
	case t.Model.Arch != ArchMLP:
		return invalid("precision", p, fmt.Sprintf(`float32 training supports model.arch "mlp" only, not %q`, t.Model.Arch))
	case t.Model.BatchNorm:
		return invalid("precision", p, "float32 training does not support model.batchnorm")
	case t.Model.Dropout > 0:
		return invalid("precision", p, "float32 training does not support model.dropout")
	case t.SAM.Rho > 0:
		return invalid("precision", p, "float32 training does not support sam (sam.rho > 0)")
	}
	return nil
}
