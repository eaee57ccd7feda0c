package sweeps

import (
	"strconv"

	"github.com/flatsweep/flatsweep/spec"
)

// ErrInvalid is returned (wrapped) when a sweep spec is malformed or fails
// validation: bad YAML, an unknown field, a wrong type or an out-of-range value.
// I/O errors (a missing or unreadable file) do not wrap it, so a caller can
// tell a user's mistake (exit status 2) from an environment problem. It is
// spec.ErrInvalid, which the checks of package spec wrap too.
var ErrInvalid = spec.ErrInvalid

// FieldError describes one problem in a sweep spec. It wraps ErrInvalid and,
// when there is one, the underlying decoder error. Parse returns one FieldError,
// or several joined with errors.Join; errors.As finds the first.
type FieldError struct {
	// Source names the spec: the file path given to Load or the source given to
	// Parse.
	Source string
	// Line is the 1-based YAML line of the offending value, 0 when unknown
	// (for example a missing field, or a syntax error the decoder did not place).
	Line int
	// Field is the path of the field, such as "grid.batch_size[2]"; empty when
	// the problem concerns the document as a whole.
	Field string
	// Value is the offending value as written in the file (strings quoted); empty
	// when the field is missing.
	Value string
	// Problem says what is wrong and what was expected.
	Problem string
	// Err is the underlying cause, if any (for example a yaml.v3 error).
	Err error
}

// Error formats the problem as "source:line: field = value: problem".
func (e *FieldError) Error() string {
	where := e.Source
	if e.Line > 0 {
		where += ":" + strconv.Itoa(e.Line)
	}
	return where + ": " + (&spec.FieldError{Field: e.Field, Value: e.Value, Problem: e.Problem}).Error()
}

// Unwrap returns ErrInvalid and the underlying cause, so that
// errors.Is(err, ErrInvalid) holds for every FieldError.
func (e *FieldError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalid, e.Err}
	}
	return []error{ErrInvalid}
}
