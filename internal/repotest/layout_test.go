package repotest

import (
	"bytes"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/flatsweep/flatsweep"

// imports returns the module's packages (by import path) and the packages
// each imports in its non-test files.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	root := moduleRoot(t)
	out := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || (d.Name() == "data" && filepath.Dir(path) == root)) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := module
		if rel != "." {
			pkg += "/" + filepath.ToSlash(rel)
		}
		if _, ok := out[pkg]; !ok {
			out[pkg] = nil
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !slices.Contains(out[pkg], p) {
				out[pkg] = append(out[pkg], p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// closure returns every package pkg depends on (itself included), following
// the module's own packages and listing the others as they are imported.
func closure(graph map[string][]string, pkg string) map[string]bool {
	seen := map[string]bool{}
	var visit func(string)
	visit = func(p string) {
		if seen[p] {
			return
		}
		seen[p] = true
		for _, q := range graph[p] {
			visit(q)
		}
	}
	visit(pkg)
	return seen
}

// TestImportDirections holds the layout to its shape: the trial's identity
// (spec) is a leaf, the stores, the transport conversions and the worker do
// not link the analysis (figures, Parquet), and nothing below the binary
// imports cmd.
func TestImportDirections(t *testing.T) {
	graph := imports(t)
	for pkg, deps := range graph {
		for _, d := range deps {
			if strings.HasPrefix(d, module+"/cmd") {
				t.Errorf("%s imports %s: nothing imports the binary", pkg, d)
			}
		}
	}
	for _, d := range graph[module+"/spec"] {
		if strings.HasPrefix(d, module) || strings.Contains(d, ".") {
			t.Errorf("spec imports %s: it must be a leaf (the standard library only)", d)
		}
	}
	heavy := []string{module + "/analysis", module + "/compute", "gonum.org/v1/plot", "github.com/parquet-go/parquet-go"}
	for _, pkg := range []string{"/spec", "/sweeps", "/results", "/internal/wire", "/coordinator/store", "/coordinator/lease"} {
		deps := closure(graph, module+pkg)
		for _, h := range heavy {
			for d := range deps {
				if d == h || strings.HasPrefix(d, h+"/") {
					t.Errorf("%s depends on %s", module+pkg, d)
				}
			}
		}
	}
	for d := range closure(graph, module+"/worker") {
		if d == module+"/analysis" || strings.HasPrefix(d, "gonum.org/v1/plot") || strings.HasPrefix(d, "github.com/parquet-go") {
			t.Errorf("the worker depends on %s", d)
		}
	}
}

// TestNothingPointsOutside: no file of the repository refers to the
// workplace's shared folder, except tests that skip without it.
func TestNothingPointsOutside(t *testing.T) {
	root := moduleRoot(t)
	cmd := exec.Command("git", "ls-files")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("git ls-files: %v (not a git checkout)", err)
	}
	needle := []byte("../" + "shared")
	for _, name := range strings.Fields(string(out)) {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			continue // deleted in the working tree
		}
		if bytes.Contains(b, needle) {
			t.Errorf("%s refers to %s: the repository must stand on its own", name, needle)
		}
	}
}
