package kubernetes_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/config"
	"go.yaml.in/yaml/v3"
)

// object is one YAML document of a manifest file.
type object struct {
	file string
	node *yaml.Node
	head struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
	}
}

type securityContext struct {
	RunAsNonRoot             *bool  `yaml:"runAsNonRoot"`
	RunAsUser                *int64 `yaml:"runAsUser"`
	AllowPrivilegeEscalation *bool  `yaml:"allowPrivilegeEscalation"`
	ReadOnlyRootFilesystem   *bool  `yaml:"readOnlyRootFilesystem"`
	Capabilities             struct {
		Drop []string `yaml:"drop"`
	} `yaml:"capabilities"`
	SeccompProfile struct {
		Type string `yaml:"type"`
	} `yaml:"seccompProfile"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"` // a number or a port name; both decode as text
	} `yaml:"httpGet"`
}

type container struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Ports   []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	EnvFrom []struct {
		SecretRef *struct {
			Name string `yaml:"name"`
		} `yaml:"secretRef"`
	} `yaml:"envFrom"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		SubPath   string `yaml:"subPath"`
	} `yaml:"volumeMounts"`
	Resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	LivenessProbe   *probe           `yaml:"livenessProbe"`
	ReadinessProbe  *probe           `yaml:"readinessProbe"`
	SecurityContext *securityContext `yaml:"securityContext"`
}

type deployment struct {
	Spec struct {
		Replicas int `yaml:"replicas"`
		Template struct {
			Spec struct {
				TerminationGracePeriodSeconds int              `yaml:"terminationGracePeriodSeconds"`
				SecurityContext               *securityContext `yaml:"securityContext"`
				InitContainers                []container      `yaml:"initContainers"`
				Containers                    []container      `yaml:"containers"`
				Volumes                       []struct {
					Name      string `yaml:"name"`
					ConfigMap *struct {
						Name  string `yaml:"name"`
						Items []struct {
							Key  string `yaml:"key"`
							Path string `yaml:"path"`
						} `yaml:"items"`
					} `yaml:"configMap"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// manifests parses every YAML document of every *.yaml file here.
func manifests(t *testing.T) []object {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests found: %v", err)
	}
	var out []object
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(f)
		for {
			var node yaml.Node
			if err := dec.Decode(&node); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				f.Close()
				t.Fatalf("%s: %v", file, err)
			}
			o := object{file: file, node: &node}
			if err := node.Decode(&o.head); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			out = append(out, o)
		}
		f.Close()
	}
	return out
}

// find returns the one object of kind and name, decoded into v.
func find(t *testing.T, objs []object, kind, name string, v any) {
	t.Helper()
	for _, o := range objs {
		if o.head.Kind == kind && o.head.Metadata.Name == name {
			if err := o.node.Decode(v); err != nil {
				t.Fatalf("%s %s in %s: %v", kind, name, o.file, err)
			}
			return
		}
	}
	t.Fatalf("no %s named %q in the manifests", kind, name)
}

func loadDeployment(t *testing.T) deployment {
	t.Helper()
	var d deployment
	find(t, manifests(t), "Deployment", "authsvc", &d)
	if len(d.Spec.Template.Spec.InitContainers) != 1 || len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("want one init container and one container, got %d and %d",
			len(d.Spec.Template.Spec.InitContainers), len(d.Spec.Template.Spec.Containers))
	}
	return d
}

// configYAML is the config.yaml key of the authsvc ConfigMap.
func configYAML(t *testing.T) string {
	t.Helper()
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	find(t, manifests(t), "ConfigMap", "authsvc-config", &cm)
	text, ok := cm.Data["config.yaml"]
	if !ok {
		t.Fatal("ConfigMap authsvc-config has no config.yaml")
	}
	return text
}

// secretData is the stringData of the example Secret.
func secretData(t *testing.T) map[string]string {
	t.Helper()
	var s struct {
		StringData map[string]string `yaml:"stringData"`
	}
	find(t, manifests(t), "Secret", "authsvc", &s)
	return s.StringData
}

func TestEveryManifestParses(t *testing.T) {
	objs := manifests(t)
	var resources []string
	for _, o := range objs {
		if o.head.APIVersion == "" || o.head.Kind == "" {
			t.Errorf("%s: a document without apiVersion or kind", o.file)
		}
		if o.head.Kind == "Kustomization" {
			var k struct {
				Resources []string `yaml:"resources"`
			}
			if err := o.node.Decode(&k); err != nil {
				t.Fatal(err)
			}
			resources = k.Resources
			continue
		}
		if o.head.Metadata.Name == "" {
			t.Errorf("%s: %s without metadata.name", o.file, o.head.Kind)
		}
	}
	t.Run("kustomization lists every manifest file", func(t *testing.T) {
		files, _ := filepath.Glob("*.yaml")
		files = slices.DeleteFunc(files, func(f string) bool { return f == "kustomization.yaml" })
		slices.Sort(resources)
		if !slices.Equal(files, resources) {
			t.Errorf("kustomization resources = %v, files = %v", resources, files)
		}
	})
}

func TestDeploymentShape(t *testing.T) {
	d := loadDeployment(t)
	spec := d.Spec.Template.Spec
	t.Run("two replicas", func(t *testing.T) {
		if d.Spec.Replicas != 2 {
			t.Errorf("replicas = %d, want 2", d.Spec.Replicas)
		}
	})
	for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
		t.Run(c.Name+" is locked down", func(t *testing.T) {
			checkSecurityContext(t, spec.SecurityContext, c.SecurityContext)
		})
		t.Run(c.Name+" has resource requests and a memory limit", func(t *testing.T) {
			if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" || c.Resources.Limits["memory"] == "" {
				t.Errorf("resources = %+v", c.Resources)
			}
		})
		t.Run(c.Name+" reads the ConfigMap at /etc/authsvc/config.yaml", func(t *testing.T) {
			checkConfigMount(t, d, c)
		})
		t.Run(c.Name+" gets the Secret as its environment", func(t *testing.T) {
			if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef == nil || c.EnvFrom[0].SecretRef.Name != "authsvc" {
				t.Errorf("envFrom = %+v, want the Secret authsvc", c.EnvFrom)
			}
		})
	}
	t.Run("init container uses the app's image", func(t *testing.T) {
		if spec.InitContainers[0].Image != spec.Containers[0].Image {
			t.Errorf("init image %q, app image %q", spec.InitContainers[0].Image, spec.Containers[0].Image)
		}
	})
}

func checkSecurityContext(t *testing.T, pod, c *securityContext) {
	t.Helper()
	if c == nil {
		t.Fatal("no container securityContext")
	}
	nonRoot, user := c.RunAsNonRoot, c.RunAsUser
	if pod != nil && nonRoot == nil {
		nonRoot = pod.RunAsNonRoot
	}
	if pod != nil && user == nil {
		user = pod.RunAsUser
	}
	seccomp := c.SeccompProfile.Type
	if seccomp == "" && pod != nil {
		seccomp = pod.SeccompProfile.Type
	}
	switch {
	case nonRoot == nil || !*nonRoot:
		t.Error("runAsNonRoot is not true")
	case user == nil || *user != 65532:
		t.Error("runAsUser is not 65532 (distroless nonroot)")
	case c.AllowPrivilegeEscalation == nil || *c.AllowPrivilegeEscalation:
		t.Error("allowPrivilegeEscalation is not false")
	case c.ReadOnlyRootFilesystem == nil || !*c.ReadOnlyRootFilesystem:
		t.Error("readOnlyRootFilesystem is not true")
	case !slices.Equal(c.Capabilities.Drop, []string{"ALL"}):
		t.Errorf("capabilities.drop = %v, want [ALL]", c.Capabilities.Drop)
	case seccomp != "RuntimeDefault":
		t.Errorf("seccompProfile = %q, want RuntimeDefault", seccomp)
	}
}

// checkConfigMount checks that c sees the ConfigMap's config.yaml at
// /etc/authsvc/config.yaml, the path the binary reads by default.
func checkConfigMount(t *testing.T, d deployment, c container) {
	t.Helper()
	for _, m := range c.VolumeMounts {
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name != m.Name || v.ConfigMap == nil || v.ConfigMap.Name != "authsvc-config" {
				continue
			}
			path := filepath.Join(m.MountPath, m.SubPath)
			if m.SubPath == "" {
				file := "config.yaml"
				for _, item := range v.ConfigMap.Items {
					if item.Key == "config.yaml" {
						file = item.Path
					}
				}
				path = filepath.Join(m.MountPath, file)
			}
			if path != "/etc/authsvc/config.yaml" {
				t.Errorf("config.yaml is mounted at %s", path)
			}
			return
		}
	}
	t.Error("the ConfigMap authsvc-config is not mounted")
}

// containerPort resolves a probe or service port (a number or a name) to the
// container's port number.
func containerPort(t *testing.T, c container, port string) int {
	t.Helper()
	if n, err := strconv.Atoi(port); err == nil {
		return n
	}
	for _, p := range c.Ports {
		if p.Name == port {
			return p.ContainerPort
		}
	}
	t.Fatalf("container %s has no port named %q", c.Name, port)
	return 0
}

func TestSecretAndService(t *testing.T) {
	t.Run("secret keys are configuration environment variables", func(t *testing.T) {
		known := map[string]bool{}
		for key := range config.Defaults() {
			known[config.EnvName(key)] = true
		}
		data := secretData(t)
		for _, name := range []string{"AUTHSVC_AUTH_SECRET_KEY", "AUTHSVC_DATABASE_URL", "AUTHSVC_MAIL_PASSWORD"} {
			if _, ok := data[name]; !ok {
				t.Errorf("the Secret has no %s", name)
			}
		}
		for name, value := range data {
			if !known[name] {
				t.Errorf("%s is not an environment variable authsvc reads", name)
			}
			if !strings.Contains(value, "CHANGE-ME") {
				t.Errorf("%s's example value is not marked CHANGE-ME", name)
			}
		}
		if !strings.HasPrefix(data["AUTHSVC_DATABASE_URL"], "postgres://") {
			t.Errorf("the database is not PostgreSQL: %s", data["AUTHSVC_DATABASE_URL"])
		}
	})
	t.Run("service targets the http port", func(t *testing.T) {
		var svc struct {
			Spec struct {
				Ports []struct {
					TargetPort string `yaml:"targetPort"`
				} `yaml:"ports"`
			} `yaml:"spec"`
		}
		find(t, manifests(t), "Service", "authsvc", &svc)
		app := loadDeployment(t).Spec.Template.Spec.Containers[0]
		if len(svc.Spec.Ports) != 1 || containerPort(t, app, svc.Spec.Ports[0].TargetPort) != 8080 {
			t.Errorf("service ports = %+v, want one targeting 8080", svc.Spec.Ports)
		}
	})
}

// The pod's grace period covers both shutdown steps: the delay during which
// /readyz is 503 but connections are still served, then the drain.
func TestGracePeriodCoversShutdown(t *testing.T) {
	var cfg struct {
		Server struct {
			ShutdownDelay string `yaml:"shutdown_delay"`
			ShutdownGrace string `yaml:"shutdown_grace"`
		} `yaml:"server"`
	}
	if err := yaml.Unmarshal([]byte(configYAML(t)), &cfg); err != nil {
		t.Fatal(err)
	}
	delay, err1 := time.ParseDuration(cfg.Server.ShutdownDelay)
	grace, err2 := time.ParseDuration(cfg.Server.ShutdownGrace)
	if err1 != nil || err2 != nil || delay <= 0 {
		t.Fatalf("the ConfigMap must set server.shutdown_delay (> 0) and server.shutdown_grace: %q %q",
			cfg.Server.ShutdownDelay, cfg.Server.ShutdownGrace)
	}
	period := time.Duration(loadDeployment(t).Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second
	// A few seconds more for the mail worker's last send and the database close.
	if need := delay + grace + 5*time.Second; period < need {
		t.Fatalf("terminationGracePeriodSeconds %s < shutdown_delay %s + shutdown_grace %s + 5s", period, delay, grace)
	}
}
