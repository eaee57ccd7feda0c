package spec_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// commandSpec is smallSpec run as a command, without a model section.
func commandSpec(argv ...string) spec.Trial {
	t := smallSpec()
	t.Model = spec.Model{}
	t.Optimizer.Momentum = 0.9
	t.Command = spec.Command{Argv: argv}
	return t
}

// TestCommandExpand: placeholders take the trial's values in canonical JSON
// — by axis name or JSON path, strings unquoted, lists as JSON — in argv,
// dir and env values, and doubled braces are literal.
func TestCommandExpand(t *testing.T) {
	tr := commandSpec("train.py", "--lr={lr}", "--b", "{batch_size}", "--m={optimizer.momentum}", "{momentum}",
		"--data={dataset.name}", "--n={n}", "{{literal}}", "{seed}{seed}")
	tr.Model = spec.Model{Arch: "mlp", Hidden: []int{16, 8}}
	tr.Command.Argv = append(tr.Command.Argv, "{model.hidden}")
	tr.Command.Dir = "runs/{seed}"
	tr.Command.Env = []string{"LR={lr}", "PLAIN=x"}
	got, err := tr.Command.Expand(tr)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"train.py", "--lr=0.1", "--b", "32", "--m=0.9", "0.9", "--data=synthetic", "--n=256", "{literal}", "1111", "[16,8]"}
	if !slices.Equal(got.Argv, want) {
		t.Errorf("argv %q, want %q", got.Argv, want)
	}
	if got.Dir != "runs/11" || !slices.Equal(got.Env, []string{"LR=0.1", "PLAIN=x"}) {
		t.Errorf("dir %q env %q", got.Dir, got.Env)
	}
	if tr.Command.Argv[1] != "--lr={lr}" {
		t.Errorf("Expand changed the template: %q", tr.Command.Argv[1])
	}
}

// TestCommandValidate: a command trial needs no model section; a template
// naming no axis or field, malformed braces, a bad timeout, GPU count or
// env entry are FieldErrors naming the field and value.
func TestCommandValidate(t *testing.T) {
	if err := commandSpec("python3", "train.py", "{lr}").Validate(); err != nil {
		t.Fatalf("a command trial without a model: %v", err)
	}
	bad := smallSpec()
	bad.Model = spec.Model{}
	if err := bad.Validate(); err == nil {
		t.Error("a trial without model or command validated")
	}
	cases := []struct {
		edit  func(*spec.Command)
		field string
		want  string
	}{
		{func(c *spec.Command) { c.Argv = append(c.Argv, "{lrr}") }, "command.argv[2]", "placeholder {lrr} names no grid axis or trial field"},
		{func(c *spec.Command) { c.Argv = append(c.Argv, "{optimizer.momentun}") }, "command.argv[2]", "{optimizer.momentun}"},
		{func(c *spec.Command) { c.Argv = append(c.Argv, "{command.gpus}") }, "command.argv[2]", "placeholder {command.gpus}"},
		{func(c *spec.Command) { c.Argv = append(c.Argv, "{}") }, "command.argv[2]", "placeholder {}"},
		{func(c *spec.Command) { c.Argv = append(c.Argv, "{lr") }, "command.argv[2]", "unterminated placeholder"},
		{func(c *spec.Command) { c.Argv = append(c.Argv, "lr}") }, "command.argv[2]", "unmatched '}'"},
		{func(c *spec.Command) { c.Dir = "{nope}" }, "command.dir", "{nope}"},
		{func(c *spec.Command) { c.Env = []string{"A={nope}"} }, "command.env[0]", "{nope}"},
		{func(c *spec.Command) { c.Env = []string{"NOEQUALS"} }, "command.env[0]", `"KEY=value"`},
		{func(c *spec.Command) { c.Env = []string{"FLATSWEEP_TRIAL_ID=x"} }, "command.env[0]", "set by the worker"},
		{func(c *spec.Command) { c.Timeout = "2 hours" }, "command.timeout", "positive duration"},
		{func(c *spec.Command) { c.Timeout = "-1s" }, "command.timeout", "positive duration"},
		{func(c *spec.Command) { c.GPUs = -1 }, "command.gpus", "0…"},
		{func(c *spec.Command) { c.Slots = new(int) }, "command.slots", "in 1…1024"},
		{func(c *spec.Command) { n := 1025; c.Slots = &n }, "command.slots", "in 1…1024"},
		{func(c *spec.Command) { n := 2; c.Argv, c.Slots = nil, &n }, "command.argv", "required field is missing"},
		{func(c *spec.Command) { c.Argv[0] = "" }, "command.argv[0]", "must not be empty"},
		{func(c *spec.Command) { c.Argv = nil; c.Timeout = "1m" }, "command.argv", "required field is missing"},
	}
	for _, c := range cases {
		tr := commandSpec("python3", "train.py")
		tr.Model = smallSpec().Model // the model section's checks are not at stake
		c.edit(&tr.Command)
		fe := fieldError(t, c.field, tr.Validate())
		if fe == nil {
			continue
		}
		if fe.Field != c.field || !strings.Contains(fe.Error(), c.want) {
			t.Errorf("error %q: want field %s saying %q", fe, c.field, c.want)
		}
	}
}

// TestCommandSweep: a sweep's command reaches every trial, its problems are
// reported at their command.* paths, and a sweep without one keeps its
// trials' identity (the command is omitted from the canonical JSON).
func TestCommandSweep(t *testing.T) {
	s := spec.Sweep{
		Name: "c", Dataset: smallSpec().Dataset, Train: spec.Train{Epochs: 2},
		Grid:    spec.Grid{BatchSize: []int{16}, LR: []float64{0.1}, Seed: []int64{1}},
		Command: spec.Command{Argv: []string{"train", "{lr}", "{bogus}"}},
	}
	err := s.Validate()
	var fe *spec.FieldError
	if !errors.As(err, &fe) || fe.Field != "command.argv[2]" {
		t.Fatalf("sweep error %v: want one at command.argv[2]", err)
	}
	s.Command.Argv = s.Command.Argv[:2]
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if b := s.Base(); !b.IsCommand() || b.Command.Argv[1] != "{lr}" {
		t.Errorf("base trial's command %v", b.Command)
	}
	plain := smallSpec()
	js, err := spec.Canonical(plain)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(js), "command") {
		t.Errorf("a trial without a command has one in its JSON: %s", js)
	}
	withCmd := plain
	withCmd.Command = spec.Command{Argv: []string{"x"}}
	if spec.ID(withCmd) == spec.ID(plain) {
		t.Error("the command is not part of the trial's identity")
	}
	back, err := spec.DecodeTrial(mustCanonical(t, withCmd))
	if err != nil || !slices.Equal(back.Command.Argv, []string{"x"}) {
		t.Errorf("round trip: %v, %v", back.Command, err)
	}
}

func mustCanonical(t *testing.T, tr spec.Trial) []byte {
	t.Helper()
	b, err := spec.Canonical(tr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
