// Command gen-dashboards writes strata's Grafana dashboards as JSON, one file per dashboard,
// into the directory given by -out (dashboards/json by default): `make dashboards`.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/strata-obs/strata/dashboards"
)

func main() {
	out := flag.String("out", "dashboards/json", "directory to write the dashboards' JSON into")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen-dashboards:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	files, err := dashboards.Render()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("write dashboard: %w", err)
		}
	}
	return nil
}
