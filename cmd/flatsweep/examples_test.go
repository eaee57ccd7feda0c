package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// commandLines returns the flatsweep invocations in text: lines (joined
// across trailing backslashes) split at ; and |, with comments and the
// brackets of optional parts removed, that start with "flatsweep ".
func commandLines(text string) []string {
	text = strings.ReplaceAll(text, "\\\n", " ")
	comment := regexp.MustCompile(`\s#.*$`)
	var out []string
	for _, line := range strings.Split(text, "\n") {
		line = comment.ReplaceAllString(line, "")
		for _, part := range strings.FieldsFunc(line, func(r rune) bool { return r == ';' || r == '|' }) {
			part = strings.NewReplacer("[", " ", "]", " ").Replace(strings.TrimSpace(part))
			if strings.HasPrefix(part, "flatsweep ") {
				out = append(out, part)
			}
		}
	}
	return out
}

// parses runs one invocation through a fresh command tree's flag parser and
// positional-argument check, without running it.
func parses(line string) error {
	root := newRootCmd()
	args := strings.Fields(line)[1:]
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return err
	}
	if cmd.Args != nil {
		return cmd.Args(cmd, cmd.Flags().Args())
	}
	return nil
}

// TestExamplesParse: every command has an example in its help, and every
// example line, and every flatsweep line of README.md, names a command that
// exists with flags it has and arguments it takes — README and --help
// cannot drift apart.
func TestExamplesParse(t *testing.T) {
	examples := 0
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Runnable() && c.Name() != "help" && c.Name() != "completion" && c.Example == "" {
			t.Errorf("%s: no example in its help", c.CommandPath())
		}
		for _, line := range commandLines(c.Example) {
			examples++
			if err := parses(line); err != nil {
				t.Errorf("%s: example %q: %v", c.CommandPath(), line, err)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd())
	t.Logf("%d example lines parsed", examples)
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var code strings.Builder
	for i, block := range strings.Split(string(readme), "```") {
		if i%2 == 1 { // inside a fence
			code.WriteString(block + "\n")
		}
	}
	lines := commandLines(code.String())
	if len(lines) < 20 {
		t.Fatalf("found %d flatsweep lines in README.md, want the examples", len(lines))
	}
	for _, line := range lines {
		if err := parses(line); err != nil {
			t.Errorf("README.md: %q: %v", line, err)
		}
	}
	t.Logf("%d flatsweep lines of README.md parsed", len(lines))
	if err := parses("flatsweep status --no-such-flag"); err == nil {
		t.Error("an unknown flag parses")
	}
}
