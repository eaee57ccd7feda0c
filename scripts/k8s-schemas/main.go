// Command k8s-schemas writes the JSON schemas kubeconform validates
// Kubernetes manifests against, from OpenAPI v3 documents of the Kubernetes
// API, so that `make k8s-check` works offline.
//
//	go run ./scripts/k8s-schemas -openapi DIR -out DIR
//
// DIR holds files named like the API server's /openapi/v3 paths
// (api__v1_openapi.json, apis__apps__v1_openapi.json, …); the Makefile takes
// them from a pinned k8s.io/client-go module (openapi/openapitest/testdata),
// fetched through the Go module proxy. For every kind (every schema carrying
// x-kubernetes-group-version-kind) one file is written, named as kubeconform's
// default schema layout names it: the lower-case kind, then "-" and the first
// label of the group (none for the core group), then "-" and the version, e.g.
// statefulset-apps-v1.json, service-v1.json.
//
// Each file is standalone: the kind's schema at the root and every schema it
// reaches under "definitions". The schemas are strict: an object that lists
// its properties admits no other (additionalProperties: false), so a
// misspelt field fails validation instead of being dropped by the API server.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	os.Exit(mainErr(os.Args[1:], os.Stdout, os.Stderr))
}

func mainErr(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("k8s-schemas", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("openapi", "", "directory of Kubernetes OpenAPI v3 documents (*_openapi.json)")
	out := fs.String("out", "", "directory to write the JSON schemas to (created)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *in == "" || *out == "" {
		fmt.Fprintln(stderr, "k8s-schemas: -openapi and -out are required")
		return 2
	}
	schemas, err := readOpenAPI(*in)
	if err != nil {
		fmt.Fprintln(stderr, "k8s-schemas:", err)
		return 1
	}
	files, err := kindSchemas(schemas)
	if err != nil {
		fmt.Fprintln(stderr, "k8s-schemas:", err)
		return 1
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(stderr, "k8s-schemas:", err)
		return 1
	}
	for name, doc := range files {
		b, err := json.Marshal(doc)
		if err == nil {
			err = os.WriteFile(filepath.Join(*out, name), b, 0o644)
		}
		if err != nil {
			fmt.Fprintln(stderr, "k8s-schemas:", err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "k8s-schemas: %d kinds from %s written to %s\n", len(files), *in, *out)
	return 0
}

// readOpenAPI merges components.schemas of every *_openapi.json file in dir.
func readOpenAPI(dir string) (map[string]map[string]any, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*_openapi.json"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("%s: no *_openapi.json files", dir)
	}
	all := map[string]map[string]any{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var doc struct {
			Components struct {
				Schemas map[string]map[string]any `json:"schemas"`
			} `json:"components"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		for name, s := range doc.Components.Schemas {
			all[name] = s
		}
	}
	return all, nil
}

// refPrefix is how OpenAPI v3 documents refer to their schemas.
const refPrefix = "#/components/schemas/"

// kindSchemas returns one standalone strict schema per kind, keyed by file name.
func kindSchemas(schemas map[string]map[string]any) (map[string]map[string]any, error) {
	files := map[string]map[string]any{}
	names := make([]string, 0, len(schemas))
	for n := range schemas {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		s := schemas[name]
		gvks, _ := s["x-kubernetes-group-version-kind"].([]any)
		for _, g := range gvks {
			gvk, _ := g.(map[string]any)
			group, _ := gvk["group"].(string)
			version, _ := gvk["version"].(string)
			kind, _ := gvk["kind"].(string)
			if kind == "" || version == "" {
				return nil, fmt.Errorf("schema %s: x-kubernetes-group-version-kind without kind or version", name)
			}
			file := strings.ToLower(kind)
			if group != "" {
				file += "-" + strings.ToLower(strings.Split(group, ".")[0])
			}
			file += "-" + strings.ToLower(version) + ".json"
			defs := map[string]any{}
			if err := reach(schemas, s, defs); err != nil {
				return nil, fmt.Errorf("schema %s: %w", name, err)
			}
			doc := convert(s).(map[string]any)
			strictDefs := map[string]any{}
			for n, d := range defs {
				strictDefs[n] = convert(d)
			}
			doc["definitions"] = strictDefs
			doc["$schema"] = "http://json-schema.org/draft-07/schema#"
			files[file] = doc
		}
	}
	if len(files) == 0 {
		return nil, errors.New("no schema names a kind (x-kubernetes-group-version-kind)")
	}
	return files, nil
}

// reach adds to defs every named schema that v refers to, transitively.
func reach(schemas map[string]map[string]any, v any, defs map[string]any) error {
	switch v := v.(type) {
	case map[string]any:
		if ref, ok := v["$ref"].(string); ok {
			name, found := strings.CutPrefix(ref, refPrefix)
			if !found {
				return fmt.Errorf("$ref %q: want %s…", ref, refPrefix)
			}
			if _, seen := defs[name]; !seen {
				s, ok := schemas[name]
				if !ok {
					return fmt.Errorf("$ref %q: no such schema", ref)
				}
				defs[name] = s
				if err := reach(schemas, s, defs); err != nil {
					return err
				}
			}
		}
		for _, x := range v {
			if err := reach(schemas, x, defs); err != nil {
				return err
			}
		}
	case []any:
		for _, x := range v {
			if err := reach(schemas, x, defs); err != nil {
				return err
			}
		}
	}
	return nil
}

// convert returns a copy of an OpenAPI schema as JSON schema: references
// point into "definitions", and objects with listed properties are closed
// unless they preserve unknown fields.
func convert(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v)+1)
		for k, x := range v {
			switch {
			case k == "$ref":
				out[k] = "#/definitions/" + strings.TrimPrefix(x.(string), refPrefix)
			case k == "properties":
				// The keys of properties are field names, not keywords.
				props := map[string]any{}
				for name, p := range x.(map[string]any) {
					props[name] = convert(p)
				}
				out[k] = props
			default:
				out[k] = convert(x)
			}
		}
		if _, hasProps := v["properties"]; hasProps {
			if _, open := v["additionalProperties"]; !open && v["x-kubernetes-preserve-unknown-fields"] != true {
				out["additionalProperties"] = false
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = convert(x)
		}
		return out
	}
	return v
}
