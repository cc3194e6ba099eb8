package inventory

import (
	"github.com/strata-obs/strata/internal/strictyaml"
	"github.com/strata-obs/strata/topology/source"
)

// Provider is the configuration's `type: inventory`: an inventory file's hosts, and its LBs.
func Provider() source.Provider {
	return source.Provider{Type: "inventory", Settings: func() source.Settings { return &Config{} }}
}

// Config is an inventory source's settings.
type Config struct {
	File string // absolute
}

// Fields are file, required.
func (c *Config) Fields(d *source.Decoder) []strictyaml.Field {
	return []strictyaml.Field{{Name: "file", Required: true, Read: d.PathField(&c.File)}}
}

// Build reads the file; a cut of more than half its hosts is held back for
// topology.stale_after.
func (c *Config) Build(name string, env source.Env) (any, error) {
	return New(name, c.File, env.StaleAfter)
}
