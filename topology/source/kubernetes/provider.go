package kubernetes

import (
	"github.com/strata-obs/strata/internal/strictyaml"
	"github.com/strata-obs/strata/topology/source"
)

// Provider is the configuration's `type: kubernetes`: Services, EndpointSlices and Ingresses
// from a cluster's API.
func Provider() source.Provider {
	return source.Provider{Type: "kubernetes", Settings: func() source.Settings { return &Config{} }}
}

// Fields are kubeconfig (absent: the pod's service account).
func (c *Config) Fields(d *source.Decoder) []strictyaml.Field {
	return []strictyaml.Field{{Name: "kubeconfig", Read: d.PathField(&c.Kubeconfig)}}
}

// Build makes the source.
func (c *Config) Build(name string, _ source.Env) (any, error) {
	cfg := *c
	cfg.Name = name
	return New(cfg)
}
