package sourcetest

import (
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/strata-obs/strata/internal/strictyaml"
	"github.com/strata-obs/strata/topology/source"
)

// Decode reads the keys of one sources entry (without type and name) into settings, as the
// configuration file reads them, with a refresh interval of refresh: a provider's tests of its
// settings need no configuration file around them.
func Decode(entry string, settings source.Settings, refresh time.Duration) error {
	root, err := strictyaml.Read("strata.yml", []byte(entry))
	if err != nil {
		return err
	}
	d := source.NewDecoder(strictyaml.NewDecoder("strata.yml", root), "/etc/strata", &refresh)
	if root == nil {
		root = &yaml.Node{Kind: yaml.MappingNode, Line: 1}
	}
	if d.Mapping(root, "", settings.Fields(d)) {
		if c, ok := settings.(source.Checker); ok {
			c.Check(d, root, "")
		}
	}
	return d.Finish()
}
