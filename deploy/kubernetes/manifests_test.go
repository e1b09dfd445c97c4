package kubernetes

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// manifests are the decoded objects of every *.yaml file in this
// directory, by kind.
type manifests struct {
	statefulSets []*appsv1.StatefulSet
	services     []*corev1.Service
	pdbs         []*policyv1.PodDisruptionBudget
}

// typeMeta reads a document's apiVersion and kind.
type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// loadManifests decodes every document of every *.yaml file in dir
// strictly (an unknown or misspelt field is an error, as a duplicate key
// is) into the API type its apiVersion and kind name.
func loadManifests(dir string) (*manifests, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.yaml in %s", dir)
	}
	m := &manifests{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for i, doc := range splitDocuments(raw) {
			if err := m.add(doc); err != nil {
				return nil, fmt.Errorf("%s document %d: %w", filepath.Base(f), i+1, err)
			}
		}
	}
	return m, nil
}

// splitDocuments splits a YAML stream on "---" lines, dropping documents
// that hold only comments and blank lines.
func splitDocuments(raw []byte) [][]byte {
	var docs [][]byte
	for _, d := range bytes.Split(raw, []byte("\n---")) {
		empty := true
		for _, line := range strings.Split(string(d), "\n") {
			t := strings.TrimSpace(line)
			if t != "" && !strings.HasPrefix(t, "#") && t != "---" {
				empty = false
				break
			}
		}
		if !empty {
			docs = append(docs, d)
		}
	}
	return docs
}

func (m *manifests) add(doc []byte) error {
	var tm typeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	switch tm.APIVersion + "/" + tm.Kind {
	case "apps/v1/StatefulSet":
		var o appsv1.StatefulSet
		if err := yaml.UnmarshalStrict(doc, &o); err != nil {
			return err
		}
		m.statefulSets = append(m.statefulSets, &o)
	case "v1/Service":
		var o corev1.Service
		if err := yaml.UnmarshalStrict(doc, &o); err != nil {
			return err
		}
		m.services = append(m.services, &o)
	case "policy/v1/PodDisruptionBudget":
		var o policyv1.PodDisruptionBudget
		if err := yaml.UnmarshalStrict(doc, &o); err != nil {
			return err
		}
		m.pdbs = append(m.pdbs, &o)
	default:
		return fmt.Errorf("unexpected object %s %s (add it to the test)", tm.APIVersion, tm.Kind)
	}
	return nil
}

// TestManifests decodes the manifests and checks every property below.
func TestManifests(t *testing.T) {
	m, err := loadManifests(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range m.check() {
		t.Error(err)
	}
}

// check returns every property the manifests break.
func (m *manifests) check() []error {
	if len(m.statefulSets) != 1 || len(m.pdbs) != 1 || len(m.services) != 2 {
		return []error{fmt.Errorf("want 1 StatefulSet, 2 Services, 1 PodDisruptionBudget; got %d, %d, %d",
			len(m.statefulSets), len(m.services), len(m.pdbs))}
	}
	ss := m.statefulSets[0]
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	pod := labels.Set(ss.Spec.Template.Labels)
	if ss.Spec.Selector == nil || !labels.SelectorFromSet(ss.Spec.Selector.MatchLabels).Matches(pod) {
		add("StatefulSet selector does not match its pod template labels")
	}
	c, err := agentContainer(ss)
	if err != nil {
		return append(errs, err)
	}
	voters, err := bootstrapExpect(c)
	if err != nil {
		add("%v", err)
	}
	if ss.Spec.Replicas == nil || int(*ss.Spec.Replicas) < voters {
		add("replicas %v fewer than bootstrap-expect %d", ss.Spec.Replicas, voters)
	}
	errs = append(errs, checkServices(m.services, ss, c, pod)...)
	errs = append(errs, checkPDB(m.pdbs[0], voters, pod)...)
	errs = append(errs, checkAntiAffinity(ss, pod)...)
	errs = append(errs, checkProbes(c)...)
	errs = append(errs, checkKey(ss, c)...)
	errs = append(errs, checkStorage(ss, c)...)
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
		add("container %s: cpu and memory requests must be set", c.Name)
	}
	return errs
}

// agentContainer is the container running `clusternode agent`.
func agentContainer(ss *appsv1.StatefulSet) (*corev1.Container, error) {
	for i := range ss.Spec.Template.Spec.Containers {
		c := &ss.Spec.Template.Spec.Containers[i]
		if slices.Contains(append(c.Command, c.Args...), "agent") {
			return c, nil
		}
	}
	return nil, errors.New("no container runs `clusternode agent`")
}

// flagValue returns the value of -name from the container's args or its
// CLUSTERNODE_<NAME> env (flags win, as in the daemon).
func flagValue(c *corev1.Container, name string) (value string, fromEnv *corev1.EnvVar) {
	args := append(append([]string{}, c.Command...), c.Args...)
	for i, a := range args {
		for _, f := range []string{"-" + name, "--" + name} {
			if a == f && i+1 < len(args) {
				return args[i+1], nil
			}
			if v, ok := strings.CutPrefix(a, f+"="); ok {
				return v, nil
			}
		}
	}
	env := "CLUSTERNODE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	for i := range c.Env {
		if c.Env[i].Name == env {
			return c.Env[i].Value, &c.Env[i]
		}
	}
	return "", nil
}

func bootstrapExpect(c *corev1.Container) (int, error) {
	v, _ := flagValue(c, "bootstrap-expect")
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("bootstrap-expect %q: want the number of voters", v)
	}
	if n%2 == 0 {
		return n, fmt.Errorf("bootstrap-expect %d: an even number of voters tolerates no more failures than one fewer", n)
	}
	return n, nil
}

func checkServices(svcs []*corev1.Service, ss *appsv1.StatefulSet, c *corev1.Container, pod labels.Set) []error {
	var errs []error
	var headless, client *corev1.Service
	for _, s := range svcs {
		if s.Name == ss.Spec.ServiceName {
			headless = s
		} else {
			client = s
		}
	}
	if headless == nil {
		return []error{fmt.Errorf("no Service named after the StatefulSet's serviceName %q", ss.Spec.ServiceName)}
	}
	if headless.Spec.ClusterIP != corev1.ClusterIPNone {
		errs = append(errs, fmt.Errorf("Service %s: clusterIP must be None (headless)", headless.Name))
	}
	if !headless.Spec.PublishNotReadyAddresses {
		errs = append(errs, fmt.Errorf("Service %s: publishNotReadyAddresses must be true (peers must find each other before any is ready)", headless.Name))
	}
	for _, port := range []int32{7946, 7947, 7948} {
		if !servicePort(headless, port) {
			errs = append(errs, fmt.Errorf("Service %s: no port %d", headless.Name, port))
		}
	}
	if join, _ := flagValue(c, "join"); !strings.HasPrefix(join, headless.Name+".") && join != headless.Name {
		errs = append(errs, fmt.Errorf("-join %q: want the headless Service's DNS name %s.<namespace>.svc...", join, headless.Name))
	}
	for _, s := range []*corev1.Service{headless, client} {
		if s != nil && !labels.SelectorFromSet(s.Spec.Selector).Matches(pod) {
			errs = append(errs, fmt.Errorf("Service %s does not select the pods", s.Name))
		}
	}
	if client == nil || client.Spec.ClusterIP == corev1.ClusterIPNone || client.Spec.PublishNotReadyAddresses {
		errs = append(errs, errors.New("want a client Service (not headless, ready pods only)"))
	} else if !servicePort(client, 7480) {
		errs = append(errs, fmt.Errorf("Service %s: no HTTP port 7480", client.Name))
	}
	return errs
}

func servicePort(s *corev1.Service, port int32) bool {
	for _, p := range s.Spec.Ports {
		if p.Port == port {
			return true
		}
	}
	return false
}

// checkPDB: at most floor((voters-1)/2) voters down keeps a quorum.
func checkPDB(pdb *policyv1.PodDisruptionBudget, voters int, pod labels.Set) []error {
	var errs []error
	want := intstr.FromInt32(int32((voters - 1) / 2))
	if pdb.Spec.MaxUnavailable == nil || *pdb.Spec.MaxUnavailable != want {
		errs = append(errs, fmt.Errorf("PodDisruptionBudget %s: maxUnavailable %v, want floor((%d-1)/2) = %s",
			pdb.Name, pdb.Spec.MaxUnavailable, voters, want.String()))
	}
	if pdb.Spec.MinAvailable != nil {
		errs = append(errs, fmt.Errorf("PodDisruptionBudget %s: set maxUnavailable only, not minAvailable", pdb.Name))
	}
	if pdb.Spec.Selector == nil || !labels.SelectorFromSet(pdb.Spec.Selector.MatchLabels).Matches(pod) {
		errs = append(errs, fmt.Errorf("PodDisruptionBudget %s does not select the pods", pdb.Name))
	}
	return errs
}

// checkAntiAffinity: two voters never share a machine.
func checkAntiAffinity(ss *appsv1.StatefulSet, pod labels.Set) []error {
	aff := ss.Spec.Template.Spec.Affinity
	if aff == nil || aff.PodAntiAffinity == nil {
		return []error{errors.New("no pod anti-affinity")}
	}
	for _, term := range aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
		if term.TopologyKey != "kubernetes.io/hostname" || term.LabelSelector == nil {
			continue
		}
		if labels.SelectorFromSet(term.LabelSelector.MatchLabels).Matches(pod) && len(term.LabelSelector.MatchExpressions) == 0 {
			return nil
		}
	}
	return []error{errors.New("no required pod anti-affinity on kubernetes.io/hostname selecting the pods themselves")}
}

// cheapLiveness are endpoints that answer without a quorum and without a
// token (a probe cannot present one): /v1/status needs a token with ACLs on.
var cheapLiveness = []string{"/v1/health/live"}

func checkProbes(c *corev1.Container) []error {
	var errs []error
	r, l := c.ReadinessProbe, c.LivenessProbe
	if r == nil || r.HTTPGet == nil || r.HTTPGet.Path != "/v1/health" {
		errs = append(errs, errors.New("readiness probe must be GET /v1/health"))
	}
	switch {
	case l == nil:
		errs = append(errs, errors.New("no liveness probe"))
	case l.HTTPGet != nil && !slices.Contains(cheapLiveness, l.HTTPGet.Path):
		errs = append(errs, fmt.Errorf("liveness probe GET %s: want one of %v (a probe that needs a quorum restarts pods while there is none)", l.HTTPGet.Path, cheapLiveness))
	case l.HTTPGet == nil && l.TCPSocket == nil:
		errs = append(errs, errors.New("liveness probe must be an HTTP GET or a TCP connect"))
	}
	for _, p := range []*corev1.Probe{r, l} {
		if p != nil && p.HTTPGet != nil && !containerPort(c, p.HTTPGet.Port) {
			errs = append(errs, fmt.Errorf("probe port %s is not a port of the container", p.HTTPGet.Port.String()))
		}
	}
	return errs
}

func containerPort(c *corev1.Container, port intstr.IntOrString) bool {
	for _, p := range c.Ports {
		if port.Type == intstr.String && p.Name == port.StrVal || port.Type == intstr.Int && p.ContainerPort == port.IntVal {
			return true
		}
	}
	return false
}

// checkKey: the cluster key comes from a Secret (env or file), never argv.
func checkKey(ss *appsv1.StatefulSet, c *corev1.Container) []error {
	for _, a := range append(append([]string{}, c.Command...), c.Args...) {
		if strings.HasPrefix(strings.TrimLeft(a, "-"), "encrypt") && !strings.HasPrefix(strings.TrimLeft(a, "-"), "encrypt-file") {
			return []error{fmt.Errorf("the cluster key is on the command line (%q): anyone who can list processes reads it", a)}
		}
	}
	if v, env := flagValue(c, "encrypt"); env != nil {
		if v != "" || env.ValueFrom == nil || env.ValueFrom.SecretKeyRef == nil {
			return []error{errors.New("CLUSTERNODE_ENCRYPT must come from a secretKeyRef, not a literal value")}
		}
		return nil
	}
	if path, _ := flagValue(c, "encrypt-file"); path != "" {
		for _, vm := range c.VolumeMounts {
			if strings.HasPrefix(path, strings.TrimRight(vm.MountPath, "/")+"/") && secretVolume(ss, vm.Name) {
				return nil
			}
		}
		return []error{fmt.Errorf("-encrypt-file %s is not on a mounted Secret volume", path)}
	}
	return []error{errors.New("no cluster key: set CLUSTERNODE_ENCRYPT from a Secret or -encrypt-file on a Secret volume")}
}

func secretVolume(ss *appsv1.StatefulSet, name string) bool {
	for _, v := range ss.Spec.Template.Spec.Volumes {
		if v.Name == name && v.Secret != nil {
			return true
		}
	}
	return false
}

// checkStorage: the data dir is on a volume claimed per pod.
func checkStorage(ss *appsv1.StatefulSet, c *corev1.Container) []error {
	dir, _ := flagValue(c, "data-dir")
	if dir == "" {
		return []error{errors.New("no -data-dir")}
	}
	for _, vm := range c.VolumeMounts {
		if strings.TrimRight(vm.MountPath, "/") != strings.TrimRight(dir, "/") {
			continue
		}
		for _, pvc := range ss.Spec.VolumeClaimTemplates {
			if pvc.Name == vm.Name && !pvc.Spec.Resources.Requests.Storage().IsZero() {
				return nil
			}
		}
	}
	return []error{fmt.Errorf("-data-dir %s is not a volume from volumeClaimTemplates with a storage request", dir)}
}
