package sweeps

import (
	_ "embed"
	"slices"

	"github.com/flatsweep/flatsweep/spec"
)

// quickstartYAML is the embedded default sweep; it is never modified.
//
//go:embed quickstart.yaml
var quickstartYAML []byte

// QuickstartSource is the name under which the embedded default sweep appears
// in error messages and listings.
const QuickstartSource = "quickstart.yaml"

// Quickstart returns a copy of the embedded default sweep file, quickstart.yaml:
// a 4 batch sizes × 2 learning rates × 3 seeds grid (24 trials) on the
// embedded synthetic task.
func Quickstart() []byte {
	return slices.Clone(quickstartYAML)
}

// Default parses the embedded default sweep (see Quickstart).
func Default() (spec.Sweep, error) {
	return Parse(quickstartYAML, QuickstartSource)
}
