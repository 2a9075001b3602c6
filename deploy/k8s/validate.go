// Package k8s checks SPARC's Kubernetes manifests offline, as strictly as
// the API server's strict field validation would: every document decodes
// into its upstream Go type (k8s.io/api) with unknown, misspelt (case
// included) and duplicate fields refused. CloudNativePG's Go API module is
// not on the Go module proxy, so its resources are checked against the
// CustomResourceDefinitions the project generates from those Go types
// (testdata/crd, copied from github.com/cloudnative-pg/cloudnative-pg),
// with the API server's own code: pruning finds unknown fields, the
// OpenAPI validator types, enums and required fields.
//
// It is a Go module of its own so that sparcd does not depend on the
// Kubernetes libraries; make test runs it.
package k8s

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Object is one decoded manifest document.
type Object struct {
	File       string
	APIVersion string
	Kind       string
	Name       string
	// Typed is the k8s.io/api value (*appsv1.Deployment, ...) for built-in
	// kinds; nil for custom resources.
	Typed any
	// Raw is the document as JSON values, for custom resources.
	Raw map[string]any
}

// builtin are the built-in kinds the manifests may use.
var builtin = map[string]func() any{
	"v1/ServiceAccount":                      func() any { return &corev1.ServiceAccount{} },
	"v1/Service":                             func() any { return &corev1.Service{} },
	"v1/ConfigMap":                           func() any { return &corev1.ConfigMap{} },
	"apps/v1/Deployment":                     func() any { return &appsv1.Deployment{} },
	"policy/v1/PodDisruptionBudget":          func() any { return &policyv1.PodDisruptionBudget{} },
	"autoscaling/v2/HorizontalPodAutoscaler": func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"networking.k8s.io/v1/NetworkPolicy":     func() any { return &networkingv1.NetworkPolicy{} },
}

// Validator decodes manifests; it holds the custom resources' schemas.
type Validator struct {
	crds map[string]*crdSchema // "group/version/Kind"
}

type crdSchema struct {
	structural *structuralschema.Structural
	validator  validation.SchemaValidator
}

// NewValidator loads the CustomResourceDefinitions in crdDir (*.yaml or
// *.yaml.gz).
func NewValidator(crdDir string) (*Validator, error) {
	v := &Validator{crds: map[string]*crdSchema{}}
	paths, err := filepath.Glob(filepath.Join(crdDir, "*.yaml*"))
	if err != nil || len(paths) == 0 {
		return nil, fmt.Errorf("no CRDs in %s: %v", crdDir, err)
	}
	for _, p := range paths {
		b, err := readMaybeGzip(p)
		if err != nil {
			return nil, err
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := strictDecode(b, &crd); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		for _, ver := range crd.Spec.Versions {
			if ver.Schema == nil || ver.Schema.OpenAPIV3Schema == nil {
				return nil, fmt.Errorf("%s: version %s has no schema", p, ver.Name)
			}
			var internal apiextensions.JSONSchemaProps
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(ver.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			s, err := structuralschema.NewStructural(&internal)
			if err != nil {
				return nil, fmt.Errorf("%s: not a structural schema: %w", p, err)
			}
			sv, _, err := validation.NewSchemaValidator(&internal)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			v.crds[crd.Spec.Group+"/"+ver.Name+"/"+crd.Spec.Names.Kind] = &crdSchema{structural: s, validator: sv}
		}
	}
	return v, nil
}

func readMaybeGzip(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil || !strings.HasSuffix(path, ".gz") {
		return b, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return io.ReadAll(zr)
}

// strictDecode turns YAML into JSON (refusing duplicate keys) and decodes
// it as the API server does: field names match case-sensitively, and an
// unknown field is an error.
func strictDecode(doc []byte, into any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strict, err := sigsjson.UnmarshalStrict(j, into)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

var separator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// File decodes every document of a manifest file.
func (v *Validator) File(path string) ([]Object, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []Object
	var errs []error
	for i, doc := range separator.Split(string(b), -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		o, err := v.Document([]byte(doc))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s, document %d: %w", filepath.Base(path), i+1, err))
			continue
		}
		o.File = filepath.Base(path)
		out = append(out, o)
	}
	return out, errors.Join(errs...)
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// Document decodes one manifest.
func (v *Validator) Document(doc []byte) (Object, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return Object{}, err
	}
	o := Object{APIVersion: tm.APIVersion, Kind: tm.Kind}
	gvk := tm.APIVersion + "/" + tm.Kind
	if newObj, ok := builtin[gvk]; ok {
		obj := newObj()
		if err := strictDecode(doc, obj); err != nil {
			return o, fmt.Errorf("%s: %w", tm.Kind, err)
		}
		o.Typed = obj
		o.Name = obj.(metav1.Object).GetName()
		return o, nil
	}
	crd, ok := v.crds[gvk]
	if !ok {
		return o, fmt.Errorf("unknown apiVersion/kind %q: add its type to the validator", gvk)
	}
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return o, err
	}
	var raw map[string]any
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(j, &raw); err != nil {
		return o, err
	}
	// metadata is ObjectMeta, whatever the schema says of it.
	var meta struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
	}
	if err := strictDecode(j, &struct {
		metav1.TypeMeta `json:",inline"`
		Metadata        *metav1.ObjectMeta `json:"metadata"`
		Spec            any                `json:"spec"`
	}{Metadata: &meta.Metadata}); err != nil {
		return o, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	o.Name, o.Raw = meta.Metadata.Name, raw
	pruned := copyJSON(raw)
	delete(pruned, "metadata")
	if unknown := pruning.PruneWithOptions(pruned, crd.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}); len(unknown) > 0 {
		return o, fmt.Errorf("%s: unknown fields %s", tm.Kind, strings.Join(unknown, ", "))
	}
	if errs := validation.ValidateCustomResource(nil, raw, crd.validator); len(errs) > 0 {
		return o, fmt.Errorf("%s: %w", tm.Kind, errs.ToAggregate())
	}
	return o, nil
}

// copyJSON deep-copies decoded JSON, since pruning edits in place.
func copyJSON(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = copyValue(v)
	}
	return out
}

func copyValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return copyJSON(x)
	case []any:
		c := make([]any, len(x))
		for i := range x {
			c[i] = copyValue(x[i])
		}
		return c
	}
	return v
}
