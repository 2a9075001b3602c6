package k8s

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

func validator(t *testing.T) *Validator {
	t.Helper()
	v, err := NewValidator("testdata/crd")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// manifests decodes every manifest in deploy/k8s, failing on any error.
func manifests(t *testing.T, v *Validator) map[string][]Object {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	byKind := map[string][]Object{}
	for _, f := range files {
		objs, err := v.File(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			byKind[o.Kind] = append(byKind[o.Kind], o)
		}
	}
	return byKind
}

// Point 6 of issue 17: every manifest decodes strictly into its upstream
// type, and together they are the deployment the issue asks for.
func TestManifestsDecodeStrictly(t *testing.T) {
	byKind := manifests(t, validator(t))
	var kinds []string
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, want := range []string{"Cluster", "Deployment", "HorizontalPodAutoscaler", "NetworkPolicy", "PodDisruptionBudget",
		"ScheduledBackup", "Service", "ServiceAccount"} {
		if len(byKind[want]) == 0 {
			t.Errorf("no %s among the manifests (%v)", want, kinds)
		}
	}
	// Secrets are referenced, never inlined: the validator knows no Secret
	// kind, so one in a manifest fails above; make that explicit.
	if _, err := validator(t).Document([]byte("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringData: {key: abc}\n")); err == nil {
		t.Error("a Secret manifest decodes: secrets must be referenced, not inlined")
	}
}

// A misspelt field, a case slip, a wrong type, a bad enum value or a
// duplicate key fails, in a built-in kind and in a CloudNativePG one.
func TestMisspeltFieldFails(t *testing.T) {
	v := validator(t)
	for _, c := range []struct{ file, from, to, want string }{
		{"sparcd.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true", "readOnlyRootFileSystem"},
		{"sparcd.yaml", "periodSeconds: 5", "periodSecond: 5", "periodSecond"},
		{"sparcd.yaml", "averageUtilization: 70", "averageUtilization: seventy", "averageUtilization"},
		{"sparcd.yaml", "  replicas: 2\n", "  replicas: 2\n  replicas: 3\n", "replicas"},
		{"networkpolicy.yaml", "policyTypes: [\"Ingress\", \"Egress\"]", "policyType: [\"Ingress\", \"Egress\"]", "policyType"},
		{"database.yaml", "dataDurability: required", "dataDurabilty: required", "dataDurabilty"},
		{"database.yaml", "method: any", "method: all", "method"},
		{"database.yaml", "instances: 3", "instances: three", "instances"},
		{"database.yaml", "  name: sparc-db\n", "  name: sparc-db\n  nmae: typo\n", "nmae"},
		{"database.yaml", "schedule: \"0 0 2 * * *\"", "schedul: \"0 0 2 * * *\"", "schedul"},
	} {
		b, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), c.from) {
			t.Fatalf("%s no longer holds %q: update the test", c.file, c.from)
		}
		bad := filepath.Join(t.TempDir(), c.file)
		if err := os.WriteFile(bad, []byte(strings.Replace(string(b), c.from, c.to, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = v.File(bad)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s with %q: got %v, want an error naming %s", c.file, c.to, err, c.want)
		}
	}
}

func one[T any](t *testing.T, byKind map[string][]Object, kind string) T {
	t.Helper()
	if len(byKind[kind]) != 1 {
		t.Fatalf("%d %s manifests, want 1", len(byKind[kind]), kind)
	}
	return byKind[kind][0].Typed.(T)
}

func selects(t *testing.T, what string, sel *metav1.LabelSelector, podLabels map[string]string) {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || s.Empty() || !s.Matches(labels.Set(podLabels)) {
		t.Errorf("%s does not select the sparcd pods: %v %v", what, s, err)
	}
}

// The rules the issue sets for the sparcd workload, and the references
// between the manifests.
func TestManifestsFollowTheRules(t *testing.T) {
	byKind := manifests(t, validator(t))
	dep := one[*appsv1.Deployment](t, byKind, "Deployment")
	pod := dep.Spec.Template
	selects(t, "the Deployment's selector", dep.Spec.Selector, pod.Labels)
	svc := one[*corev1.Service](t, byKind, "Service")
	selects(t, "the Service", &metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, pod.Labels)
	selects(t, "the PodDisruptionBudget", one[*policyv1.PodDisruptionBudget](t, byKind, "PodDisruptionBudget").Spec.Selector, pod.Labels)
	hpa := one[*autoscalingv2.HorizontalPodAutoscaler](t, byKind, "HorizontalPodAutoscaler")
	if ref := hpa.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != dep.Name {
		t.Errorf("the autoscaler scales %s/%s, not the Deployment %s", ref.Kind, ref.Name, dep.Name)
	}
	var guarded bool
	for _, o := range byKind["NetworkPolicy"] {
		np := o.Typed.(*networkingv1.NetworkPolicy)
		if s, _ := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector); s.Matches(labels.Set(pod.Labels)) {
			guarded = true
		}
	}
	if !guarded {
		t.Error("no NetworkPolicy selects the sparcd pods")
	}

	psc := pod.Spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != 65532 {
		t.Errorf("the pod does not run as the image's non-root user 65532: %+v", psc)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("container security context: %+v", sc)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" ||
		c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Error("liveness must probe /healthz and readiness /readyz")
	}
	// The probed paths are sparcd's.
	server, err := os.ReadFile("../../internal/server/server.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{`"GET /healthz"`, `"GET /readyz"`} {
		if !strings.Contains(string(server), p) {
			t.Errorf("internal/server serves no %s", p)
		}
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources: %+v", c.Resources)
	}
	secretEnv := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			secretEnv[e.Name] = e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		}
		if e.Value != "" && (strings.Contains(e.Name, "KEY") || strings.Contains(e.Name, "PASSWORD") || e.Name == "DATABASE_URL") {
			t.Errorf("%s is inlined: reference a Secret", e.Name)
		}
	}
	cluster := byKind["Cluster"][0]
	if secretEnv["DATABASE_URL"] != cluster.Name+"-app/uri" {
		t.Errorf("DATABASE_URL comes from %q, want CloudNativePG's application secret %s-app/uri", secretEnv["DATABASE_URL"], cluster.Name)
	}
	if secretEnv["SPARC_DATA_KEY"] == "" {
		t.Error("SPARC_DATA_KEY is not from a Secret")
	}

	// The database: three PostGIS instances, synchronous, backed up.
	spec := cluster.Raw["spec"].(map[string]any)
	get := func(m map[string]any, path ...string) any {
		var v any = m
		for _, p := range path {
			mm, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = mm[p]
		}
		return v
	}
	if n, _ := spec["instances"].(int64); n != 3 {
		t.Errorf("instances: %v, want 3", spec["instances"])
	}
	if img, _ := spec["imageName"].(string); !strings.Contains(img, "postgis") {
		t.Errorf("imageName %q is not a PostGIS image", img)
	}
	if n, _ := get(spec, "postgresql", "synchronous", "number").(int64); n < 1 {
		t.Error("no synchronous replica")
	}
	if get(spec, "backup", "barmanObjectStore", "destinationPath") == nil ||
		get(spec, "backup", "barmanObjectStore", "s3Credentials", "secretAccessKey", "name") == nil {
		t.Error("no backup to object storage with credentials from a Secret")
	}
	sb := byKind["ScheduledBackup"][0]
	if get(sb.Raw, "spec", "cluster", "name") != cluster.Name {
		t.Errorf("the scheduled backup is of %v, not %s", get(sb.Raw, "spec", "cluster", "name"), cluster.Name)
	}
}

// The point-in-time recovery cluster of the runbook decodes strictly too,
// and recovers from the backups database.yaml writes.
func TestRecoveryManifestDecodes(t *testing.T) {
	v := validator(t)
	objs, err := v.File("recovery/sparc-db-pitr.yaml")
	if err != nil {
		t.Fatal(err)
	}
	live, err := v.File("database.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].Kind != "Cluster" {
		t.Fatalf("recovery manifest: %+v", objs)
	}
	ext := objs[0].Raw["spec"].(map[string]any)["externalClusters"].([]any)[0].(map[string]any)["barmanObjectStore"].(map[string]any)
	src := live[0].Raw["spec"].(map[string]any)["backup"].(map[string]any)["barmanObjectStore"].(map[string]any)
	if ext["destinationPath"] != src["destinationPath"] {
		t.Errorf("recovery reads %v, backups go to %v", ext["destinationPath"], src["destinationPath"])
	}
}
