package spec

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Command makes a trial run an external program — the user's own training
// script, in any language — instead of flatsweep's trainer. The worker runs
// Argv (after substitution, see Command.Expand) in a fresh directory per
// attempt and reads its per-epoch metrics and final result (docs/COMMANDS.md
// has the protocol). The trial's other sections keep their meaning as
// parameters handed to the program: the dataset (whose N gives the noise
// scale g = εN/B), the budget and procedure under train, and the grid's
// values. With a model section, flatsweep measures the curvature
// (curvature section) of the weights the program writes.
//
// Every string of Argv, Dir and Env may hold placeholders {name}: name is a
// grid axis ("lr", "batch_size", "momentum", …) or the JSON path of any
// trial field ("optimizer.momentum", "dataset.n", "model.hidden"), replaced
// by the trial's value in canonical JSON (a string field without its
// quotes). "{{" and "}}" stand for literal braces.
type Command struct {
	// Argv is the program and its arguments; Argv[0] is looked up in the
	// worker's PATH unless it holds a slash.
	Argv []string `json:"argv,omitempty"`
	// Dir is the working directory (default: the attempt's fresh directory).
	// A relative path resolves against the worker's working directory.
	Dir string `json:"dir,omitempty"`
	// Env lists extra environment variables as "KEY=value".
	Env []string `json:"env,omitempty"`
	// Timeout bounds one attempt, as a Go duration such as "90s" or "2h"
	// (default: none). An attempt past it is stopped and fails.
	Timeout string `json:"timeout,omitempty"`
	// GPUs is the number of GPUs the program needs: it runs only on workers
	// that advertise at least as many (flatsweep worker --gpus), which
	// assign it GPU indices through CUDA_VISIBLE_DEVICES.
	GPUs int `json:"gpus,omitempty"`
	// Slots is the number of a worker's slots (flatsweep worker --slots)
	// one trial of the command occupies while it runs (default 1): a
	// multi-threaded or multi-GPU program given k slots runs only on a worker
	// with k free slots, and finds k in FLATSWEEP_SLOTS, to size its threads
	// by. A trial needing more slots than any worker has never runs. Absent
	// means 1; an explicit value must be in 1…MaxCommandSlots.
	Slots *int `json:"slots,omitempty"`
	// Data hands the trial's data set, as flatsweep loads it, to the program:
	// the worker writes it to a safetensors file (tensors train_x, train_y,
	// test_x, test_y) named by FLATSWEEP_DATA, so that the program trains
	// on exactly the examples flatsweep measures the curvature over.
	Data bool `json:"data,omitempty"`
}

// Limits of a command section.
const (
	maxArgs       = 1024
	maxCommandArg = 1 << 16
	// MaxCommandGPUs bounds command.gpus.
	MaxCommandGPUs = 1024
	// MaxCommandSlots bounds command.slots.
	MaxCommandSlots = 1024
)

// SlotsNeeded returns the number of worker slots one trial of the command
// occupies: command.slots, 1 when absent.
func (c Command) SlotsNeeded() int {
	if c.Slots == nil {
		return 1
	}
	return *c.Slots
}

// IsCommand reports whether the trial runs an external program.
func (t Trial) IsCommand() bool { return len(t.Command.Argv) > 0 }

// TimeoutDuration returns the command's timeout, 0 for none. The timeout
// is checked by Validate.
func (c Command) TimeoutDuration() time.Duration {
	d, err := time.ParseDuration(c.Timeout)
	if err != nil || d < 0 {
		return 0
	}
	return d
}

// Expand returns the command of trial t with every placeholder replaced by
// t's value (see Command), or a *FieldError naming the string and the
// placeholder that names no axis or field.
func (c Command) Expand(t Trial) (Command, error) {
	out := c
	var err error
	sub := func(field, s string) string {
		if err != nil {
			return s
		}
		var v string
		v, err = expandTemplate(field, s, t)
		return v
	}
	out.Argv = make([]string, len(c.Argv))
	for i, a := range c.Argv {
		out.Argv[i] = sub(fmt.Sprintf("command.argv[%d]", i), a)
	}
	out.Dir = sub("command.dir", c.Dir)
	if c.Env != nil {
		out.Env = make([]string, len(c.Env))
		for i, e := range c.Env {
			out.Env[i] = sub(fmt.Sprintf("command.env[%d]", i), e)
		}
	}
	if err != nil {
		return Command{}, err
	}
	return out, nil
}

// expandTemplate replaces the placeholders of s, the value of field.
func expandTemplate(field, s string, t Trial) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "{{"):
			b.WriteByte('{')
			i += 2
		case strings.HasPrefix(s[i:], "}}"):
			b.WriteByte('}')
			i += 2
		case s[i] == '}':
			return "", invalid(field, s, fmt.Sprintf("unmatched '}' at byte %d; write }} for a literal brace", i))
		case s[i] == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return "", invalid(field, s, fmt.Sprintf("unterminated placeholder at byte %d; write {{ for a literal brace", i))
			}
			name := s[i+1 : i+end]
			v, err := placeholder(t, name)
			if err != nil {
				return "", invalid(field, s, err.Error())
			}
			b.WriteString(v)
			i += end + 1
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), nil
}

// placeholder returns the value of the axis or trial field name.
func placeholder(t Trial, name string) (string, error) {
	path := name
	if p, ok := AxisPath(name); ok {
		path = p
	}
	if name == "" || path == "command" || strings.HasPrefix(path, "command.") {
		return "", fmt.Errorf("placeholder {%s}: expected a grid axis (%s) or the JSON path of a trial field such as optimizer.momentum", name, strings.Join(AxisNames(), ", "))
	}
	js, err := GetJSON(t, path)
	if err != nil {
		return "", fmt.Errorf("placeholder {%s} names no grid axis or trial field; expected an axis (%s) or a JSON path such as optimizer.momentum", name, strings.Join(AxisNames(), ", "))
	}
	var s string
	if json.Unmarshal([]byte(js), &s) == nil {
		return s, nil
	}
	return js, nil
}

// validateCommand checks the command section: a program, valid strings,
// every placeholder resolvable, a valid timeout, GPU and slot count.
func (t Trial) validateCommand() error {
	c := t.Command
	switch {
	case len(c.Argv) == 0:
		if c.Dir != "" || len(c.Env) > 0 || c.Timeout != "" || c.GPUs != 0 || c.Slots != nil || c.Data {
			return missing("command.argv", `the program and its arguments, such as ["python3", "train.py", "--lr", "{lr}"]`)
		}
		return nil
	case len(c.Argv) > maxArgs:
		return invalid("command.argv", len(c.Argv), fmt.Sprintf("at most %d arguments", maxArgs))
	case c.Argv[0] == "":
		return invalid("command.argv[0]", c.Argv[0], "the program must not be empty")
	case c.GPUs < 0 || c.GPUs > MaxCommandGPUs:
		return invalid("command.gpus", c.GPUs, fmt.Sprintf("must be in 0…%d", MaxCommandGPUs))
	case c.Slots != nil && (*c.Slots < 1 || *c.Slots > MaxCommandSlots):
		return invalid("command.slots", *c.Slots, fmt.Sprintf("the number of worker slots one trial occupies, in 1…%d (absent: 1)", MaxCommandSlots))
	}
	for i, a := range c.Argv {
		if len(a) > maxCommandArg || strings.IndexByte(a, 0) >= 0 {
			return invalid(fmt.Sprintf("command.argv[%d]", i), a, fmt.Sprintf("must be at most %d bytes without NUL bytes", maxCommandArg))
		}
	}
	for i, e := range c.Env {
		k, _, ok := strings.Cut(e, "=")
		if !ok || k == "" || strings.ContainsAny(k, "{}") || strings.IndexByte(e, 0) >= 0 || len(e) > maxCommandArg {
			return invalid(fmt.Sprintf("command.env[%d]", i), e, `expected "KEY=value" (placeholders only in the value)`)
		}
		if strings.HasPrefix(k, "FLATSWEEP_") {
			return invalid(fmt.Sprintf("command.env[%d]", i), e, "FLATSWEEP_ variables are set by the worker")
		}
	}
	if c.Timeout != "" {
		if d, err := time.ParseDuration(c.Timeout); err != nil || d <= 0 {
			return invalid("command.timeout", c.Timeout, `expected a positive duration such as "90s", "30m" or "2h"`)
		}
	}
	_, err := c.Expand(t)
	return err
}
