package sweeps

import (
	_ "embed"
	"slices"
)

// quickstartYAML is the embedded default sweep; it is never modified.
//
//go:embed quickstart.yaml
var quickstartYAML []byte

// QuickstartSource is the name under which the embedded default sweep appears
// in error messages and listings.
const QuickstartSource = "quickstart.yaml"

// Quickstart returns a copy of the embedded default sweep file, quickstart.yaml:
// a 3 batch sizes × 2 learning rates × 2 seeds grid (12 trials) on a small
// synthetic task.
func Quickstart() []byte {
	return slices.Clone(quickstartYAML)
}

// Default parses the embedded default sweep (see Quickstart).
func Default() (*Spec, error) {
	return Parse(quickstartYAML, QuickstartSource)
}
