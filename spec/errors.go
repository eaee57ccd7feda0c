package spec

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is returned (wrapped) by every check of this package when a spec
// is invalid.
var ErrInvalid = errors.New("invalid spec")

// FieldError is the error returned for an invalid value: it names the field
// by its path (such as "optimizer.momentum", "model.hidden[1]" or, in a
// sweep, "grid.lr[2]"), the offending value and the problem, and wraps
// ErrInvalid. The sweep-file reader adds the file and line.
type FieldError struct {
	// Field is the path of the offending field; empty when the problem
	// concerns the spec as a whole.
	Field string
	// Value is the offending value as formatted in the message (strings
	// quoted); empty when the field is missing.
	Value string
	// Problem says what is wrong and what is expected.
	Problem string
}

// Error formats the error as "field = value: problem".
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Field != "" {
		b.WriteString(e.Field)
		if e.Value != "" {
			b.WriteString(" = ")
			b.WriteString(e.Value)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Problem)
	return b.String()
}

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// under returns a copy of e with its path below prefix.
func (e *FieldError) under(prefix string) *FieldError {
	c := *e
	switch {
	case prefix == "":
	case c.Field == "":
		c.Field = prefix
	case strings.HasPrefix(c.Field, "["):
		c.Field = prefix + c.Field
	default:
		c.Field = prefix + "." + c.Field
	}
	return &c
}

// literal is a value shown verbatim (not quoted) in an error message.
type literal string

// invalid returns a *FieldError; string values are shown quoted.
func invalid(field string, value any, problem string) *FieldError {
	switch v := value.(type) {
	case string:
		value = fmt.Sprintf("%q", v)
	case nil:
		value = ""
	}
	return &FieldError{Field: field, Value: fmt.Sprint(value), Problem: problem}
}

// missing returns a *FieldError for a required field that is absent.
func missing(field, expected string) *FieldError {
	return &FieldError{Field: field, Problem: "required field is missing; expected " + expected}
}
