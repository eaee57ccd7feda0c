package compute

import (
	"errors"
	"io/fs"

	"github.com/flatsweep/flatsweep/compute/data"
	"github.com/flatsweep/flatsweep/compute/weights"
	"github.com/flatsweep/flatsweep/spec"
)

// IsInputError reports whether a trial's error lies in its input — an
// invalid spec (spec.ErrInvalid), a data or warm-start file that is missing,
// unreadable or malformed (fs.ErrNotExist, fs.ErrPermission, data.ErrFormat,
// data.ErrConfig, the weights errors) — so that running the same trial again
// gives the same error: a worker reports it as permanent, and the trial is
// not retried.
func IsInputError(err error) bool {
	for _, target := range []error{
		spec.ErrInvalid, fs.ErrNotExist, fs.ErrPermission,
		data.ErrFormat, data.ErrConfig,
		weights.ErrFormat, weights.ErrUnsupported, weights.ErrTensor, weights.ErrMismatch,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
