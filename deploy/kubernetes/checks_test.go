package kubernetes

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestChecksCatchBreakage breaks the manifests one property at a time and
// wants check to report each, so that TestManifests can fail.
func TestChecksCatchBreakage(t *testing.T) {
	cases := []struct {
		name    string
		breakIt func(m *manifests)
		want    string
	}{
		{"pdb too large", func(m *manifests) { v := intstr.FromInt32(2); m.pdbs[0].Spec.MaxUnavailable = &v }, "maxUnavailable"},
		{"pdb for 5 voters", func(m *manifests) {
			setEnv(m, "CLUSTERNODE_BOOTSTRAP_EXPECT", "5")
			m.statefulSets[0].Spec.Replicas = ptr(int32(5))
		}, "maxUnavailable"},
		{"not headless", func(m *manifests) { headless(m).Spec.ClusterIP = "" }, "headless"},
		{"ready only", func(m *manifests) { headless(m).Spec.PublishNotReadyAddresses = false }, "publishNotReadyAddresses"},
		{"preferred anti-affinity", func(m *manifests) {
			a := m.statefulSets[0].Spec.Template.Spec.Affinity.PodAntiAffinity
			a.RequiredDuringSchedulingIgnoredDuringExecution = nil
		}, "anti-affinity"},
		{"zone anti-affinity", func(m *manifests) {
			a := m.statefulSets[0].Spec.Template.Spec.Affinity.PodAntiAffinity
			a.RequiredDuringSchedulingIgnoredDuringExecution[0].TopologyKey = "topology.kubernetes.io/zone"
		}, "anti-affinity"},
		{"readiness elsewhere", func(m *manifests) { container(m).ReadinessProbe.HTTPGet.Path = "/v1/status" }, "readiness"},
		{"liveness on health", func(m *manifests) { container(m).LivenessProbe.HTTPGet.Path = "/v1/health" }, "liveness"},
		{"liveness needs a token", func(m *manifests) { container(m).LivenessProbe.HTTPGet.Path = "/v1/status" }, "liveness"},
		{"no liveness", func(m *manifests) { container(m).LivenessProbe = nil }, "liveness"},
		{"key in argv", func(m *manifests) { container(m).Args = append(container(m).Args, "-encrypt", "c2VjcmV0") }, "command line"},
		{"literal key", func(m *manifests) {
			e := env(m, "CLUSTERNODE_ENCRYPT")
			e.ValueFrom, e.Value = nil, "c2VjcmV0"
		}, "secretKeyRef"},
		{"no requests", func(m *manifests) { container(m).Resources.Requests = nil }, "requests"},
		{"no claim", func(m *manifests) { m.statefulSets[0].Spec.VolumeClaimTemplates = nil }, "volumeClaimTemplates"},
		{"join by IP", func(m *manifests) { setEnv(m, "CLUSTERNODE_JOIN", "10.0.0.1") }, "-join"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := loadManifests(".")
			if err != nil {
				t.Fatal(err)
			}
			tc.breakIt(m)
			var msgs []string
			for _, err := range m.check() {
				msgs = append(msgs, err.Error())
			}
			if !strings.Contains(strings.Join(msgs, "\n"), tc.want) {
				t.Errorf("check reported %q, want an error mentioning %q", msgs, tc.want)
			}
		})
	}
}

// TestStrictDecoding: a misspelt field is an error, not ignored.
func TestStrictDecoding(t *testing.T) {
	m := &manifests{}
	doc := []byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  publishNotReadyAdresses: true\n")
	if err := m.add(doc); err == nil {
		t.Fatal("a misspelt field (publishNotReadyAdresses) was accepted")
	}
	if err := m.add([]byte("apiVersion: v1\nkind: Pod\n")); err == nil {
		t.Fatal("an unexpected kind was accepted")
	}
}

func ptr[T any](v T) *T { return &v }

func container(m *manifests) *corev1.Container {
	c, _ := agentContainer(m.statefulSets[0])
	return c
}

func headless(m *manifests) *corev1.Service {
	for _, s := range m.services {
		if s.Name == m.statefulSets[0].Spec.ServiceName {
			return s
		}
	}
	return nil
}

func env(m *manifests, name string) *corev1.EnvVar {
	c := container(m)
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

func setEnv(m *manifests, name, value string) { env(m, name).Value = value }
