package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// deployDir is the repository's deploy/ directory, seen from this package.
const deployDir = "../../deploy"

// checkCommandLine fails the test unless args (without the program name)
// name a flatsweep command and flags that it accepts.
func checkCommandLine(t *testing.T, where string, args []string) {
	t.Helper()
	root := newRootCmd()
	cmd, rest, err := root.Find(args)
	if err != nil || cmd == root {
		t.Errorf("%s: %q names no flatsweep command: %v", where, args, err)
		return
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Errorf("%s: flatsweep %s: %v", where, strings.Join(args, " "), err)
	}
	if extra := cmd.Flags().Args(); len(extra) > 0 {
		t.Errorf("%s: flatsweep %s: arguments %q after the flags", where, cmd.Name(), extra)
	}
}

// k8sContainers maps "Kind/name" to the args of the first container of
// every workload in the YAML documents of r.
func k8sContainers(t *testing.T, r io.Reader) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	dec := yaml.NewDecoder(r)
	for {
		var doc struct {
			Kind     string `yaml:"kind"`
			Metadata struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
			Spec struct {
				Template struct {
					Spec struct {
						Containers []struct {
							Args []string `yaml:"args"`
						} `yaml:"containers"`
					} `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		if cs := doc.Spec.Template.Spec.Containers; len(cs) > 0 {
			out[doc.Kind+"/"+doc.Metadata.Name] = cs[0].Args
		}
	}
}

// k8sEnvRef is a $(VAR) reference in a container's args.
var k8sEnvRef = regexp.MustCompile(`\$\([A-Z_]+\)`)

// TestDeployManifestsCommandLines: the command lines of the Kubernetes base
// (with the flags the tls overlay adds) and of the systemd units, with the
// settings of their example env files, are flatsweep commands and flags that
// exist, so a renamed flag cannot leave the deployment files behind.
func TestDeployManifestsCommandLines(t *testing.T) {
	workloads := map[string][]string{}
	for _, f := range []string{"coordinator-statefulset.yaml", "worker-deployment.yaml"} {
		b, err := os.ReadFile(filepath.Join(deployDir, "k8s/base", f))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range k8sContainers(t, bytes.NewReader(b)) {
			workloads[k] = v
		}
	}
	if len(workloads) != 2 {
		t.Fatalf("workloads %v, want the coordinator's StatefulSet and the workers' Deployment", workloads)
	}
	// The tls overlay appends flags with JSON patches.
	b, err := os.ReadFile(filepath.Join(deployDir, "k8s/overlays/tls/kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Patches []struct {
			Target struct{ Kind, Name string } `yaml:"target"`
			Patch  string                      `yaml:"patch"`
		} `yaml:"patches"`
	}
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	withTLS := map[string][]string{}
	for _, p := range k.Patches {
		key := p.Target.Kind + "/" + p.Target.Name
		var ops []struct {
			Op, Path string
			Value    any
		}
		if err := yaml.Unmarshal([]byte(p.Patch), &ops); err != nil {
			t.Fatalf("tls overlay, patch of %s: %v", key, err)
		}
		args := append([]string(nil), workloads[key]...)
		for _, op := range ops {
			if strings.HasSuffix(op.Path, "/args/-") {
				args = append(args, op.Value.(string))
			}
		}
		withTLS[key] = args
	}
	for key, args := range workloads {
		args = strings.Fields(k8sEnvRef.ReplaceAllString(strings.Join(args, " "), "x"))
		checkCommandLine(t, "deploy/k8s/base "+key, args)
		if tls, ok := withTLS[key]; ok {
			checkCommandLine(t, "deploy/k8s/overlays/tls "+key, strings.Fields(k8sEnvRef.ReplaceAllString(strings.Join(tls, " "), "x")))
		} else {
			t.Errorf("the tls overlay patches no %s", key)
		}
	}

	for _, unit := range []struct{ service, env string }{
		{"flatsweep-coordinator.service", "coordinator.env.example"},
		{"flatsweep-worker.service", "worker.env.example"},
	} {
		env := map[string]string{}
		for _, line := range unitLines(t, filepath.Join(deployDir, "systemd", unit.service)) {
			if rest, ok := strings.CutPrefix(line, "Environment="); ok {
				for _, kv := range strings.Fields(rest) {
					k, v, _ := strings.Cut(kv, "=")
					env[k] = v
				}
			}
		}
		for _, line := range unitLines(t, filepath.Join(deployDir, "systemd", unit.env)) {
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: %q is no KEY=value line", unit.env, line)
			}
			env[k] = v // the value may hold spaces: EnvironmentFile= keeps them
		}
		var exec string
		for _, line := range unitLines(t, filepath.Join(deployDir, "systemd", unit.service)) {
			if rest, ok := strings.CutPrefix(line, "ExecStart="); ok {
				exec = rest
			}
		}
		words := strings.Fields(exec)
		if len(words) < 2 || words[0] != "/usr/local/bin/flatsweep" {
			t.Fatalf("%s: ExecStart %q, want /usr/local/bin/flatsweep …", unit.service, exec)
		}
		var args []string
		for _, w := range words[1:] {
			w = regexp.MustCompile(`%[dSH]`).ReplaceAllString(w, "x")
			switch {
			case strings.HasPrefix(w, "${") && strings.HasSuffix(w, "}"):
				v, ok := env[w[2:len(w)-1]]
				if !ok {
					t.Errorf("%s: %s is set neither in the unit nor in %s", unit.service, w, unit.env)
				}
				args = append(args, v) // one word, as systemd passes ${VAR}
			case strings.HasPrefix(w, "$"):
				args = append(args, strings.Fields(env[w[1:]])...) // split, as systemd splits $VAR
			default:
				args = append(args, w)
			}
		}
		checkCommandLine(t, "deploy/systemd/"+unit.service, args)
	}
}

// unitLines returns the lines of a unit or env file with continuations
// joined, without comments and blank lines.
func unitLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	var cur strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(cont + " ")
			continue
		}
		cur.WriteString(line)
		lines = append(lines, cur.String())
		cur.Reset()
	}
	return lines
}
