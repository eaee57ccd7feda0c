package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// openAPIDoc is a two-kind OpenAPI v3 document in the Kubernetes layout.
const openAPIDoc = `{"components": {"schemas": {
  "io.k8s.api.apps.v1.Deployment": {
    "x-kubernetes-group-version-kind": [{"group": "apps", "kind": "Deployment", "version": "v1"}],
    "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
      "spec": {"allOf": [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}]}}},
  "io.k8s.api.apps.v1.DeploymentSpec": {
    "properties": {"replicas": {"type": "integer"},
      "labels": {"type": "object", "additionalProperties": {"type": "string"}},
      "raw": {"type": "object", "properties": {"a": {"type": "string"}}, "x-kubernetes-preserve-unknown-fields": true},
      "properties": {"type": "string"}},
    "required": ["replicas"]},
  "io.k8s.api.core.v1.Service": {
    "x-kubernetes-group-version-kind": [{"group": "", "kind": "Service", "version": "v1"}],
    "properties": {"kind": {"type": "string"}}},
  "io.k8s.api.core.v1.Unused": {"properties": {"x": {"type": "string"}}}
}}}`

func TestKindSchemas(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(in, "apis__apps__v1_openapi.json"), []byte(openAPIDoc), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := mainErr([]string{"-openapi", in, "-out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	// File names follow kubeconform's {{ .ResourceKind }}{{ .KindSuffix }}.
	entries, _ := os.ReadDir(out)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "deployment-apps-v1.json service-v1.json" {
		t.Fatalf("files %v, want deployment-apps-v1.json and service-v1.json", names)
	}
	b, err := os.ReadFile(filepath.Join(out, "deployment-apps-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		AdditionalProperties any `json:"additionalProperties"`
		Properties           struct {
			Spec struct {
				AllOf []struct {
					Ref string `json:"$ref"`
				} `json:"allOf"`
			} `json:"spec"`
		} `json:"properties"`
		Definitions map[string]struct {
			AdditionalProperties any                        `json:"additionalProperties"`
			Properties           map[string]json.RawMessage `json:"properties"`
		} `json:"definitions"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.AdditionalProperties != false {
		t.Errorf("root additionalProperties %v, want false (strict)", doc.AdditionalProperties)
	}
	if len(doc.Properties.Spec.AllOf) != 1 || doc.Properties.Spec.AllOf[0].Ref != "#/definitions/io.k8s.api.apps.v1.DeploymentSpec" {
		t.Errorf("spec ref %+v, want #/definitions/io.k8s.api.apps.v1.DeploymentSpec", doc.Properties.Spec.AllOf)
	}
	if len(doc.Definitions) != 1 {
		t.Errorf("%d definitions, want only the one reached (DeploymentSpec)", len(doc.Definitions))
	}
	spec := doc.Definitions["io.k8s.api.apps.v1.DeploymentSpec"]
	if spec.AdditionalProperties != false {
		t.Errorf("DeploymentSpec additionalProperties %v, want false", spec.AdditionalProperties)
	}
	var labels, raw, prop map[string]any
	_ = json.Unmarshal(spec.Properties["labels"], &labels)
	_ = json.Unmarshal(spec.Properties["raw"], &raw)
	_ = json.Unmarshal(spec.Properties["properties"], &prop)
	if _, ok := labels["additionalProperties"].(map[string]any); !ok {
		t.Errorf("a map's additionalProperties was changed: %v", labels)
	}
	if _, closed := raw["additionalProperties"]; closed {
		t.Errorf("an object preserving unknown fields was closed: %v", raw)
	}
	if prop["type"] != "string" || prop["additionalProperties"] != nil {
		t.Errorf("a field named properties was taken for the keyword: %v", prop)
	}
}

func TestBadInput(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := mainErr(nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "-openapi and -out are required") {
		t.Errorf("no flags: exit %d, %q", code, stderr.String())
	}
	stderr.Reset()
	if code := mainErr([]string{"-openapi", t.TempDir(), "-out", t.TempDir()}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "no *_openapi.json files") {
		t.Errorf("empty directory: exit %d, %q", code, stderr.String())
	}
	dir := t.TempDir()
	_ = os.WriteFile(filepath.Join(dir, "api__v1_openapi.json"), []byte(`{"components": {"schemas": {"A": {"x-kubernetes-group-version-kind": [{"kind": "A", "version": "v1"}], "properties": {"b": {"$ref": "#/components/schemas/Missing"}}}}}}`), 0o644)
	stderr.Reset()
	if code := mainErr([]string{"-openapi", dir, "-out", t.TempDir()}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), `"#/components/schemas/Missing": no such schema`) {
		t.Errorf("dangling $ref: exit %d, %q", code, stderr.String())
	}
}
