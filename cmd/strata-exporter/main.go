// Command strata-exporter is strata's node agent: one per host, it reports the kernel, OS
// image, hardware, containers and listening sockets as Prometheus info metrics.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"syscall"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/strata-obs/strata/exporter"
	"github.com/strata-obs/strata/exporter/collector"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	app := kingpin.New("strata-exporter", "strata's node agent: kernel, OS image, hardware, containers and listeners of this host.")
	var opts exporter.Options
	opts.WebConfig = kingpinflag.AddFlags(app, ":9731")
	app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").StringVar(&opts.MetricsPath)
	app.Flag("path.procfs", "procfs mountpoint.").Default("/proc").StringVar(&opts.Collector.ProcFS)
	app.Flag("path.sysfs", "sysfs mountpoint.").Default("/sys").StringVar(&opts.Collector.SysFS)
	app.Flag("path.rootfs", "rootfs mountpoint: the host's / (os-release, machine-id, runtime sockets are read under it).").Default("/").StringVar(&opts.Collector.RootFS)
	app.Flag("host.name", "The host label of every series (default: $NODE_NAME, else the hostname).").Envar("NODE_NAME").StringVar(&opts.HostName)
	app.Flag("scrape.timeout", "Deadline of a scrape when Prometheus sends none.").Default("10s").DurationVar(&opts.ScrapeTimeout)
	app.Flag("collector.static-refresh", "How often facts that do not change (DMI, CPU model, disks) are re-read.").Default(collector.DefaultStaticRefresh.String()).DurationVar(&opts.Collector.StaticRefresh)
	app.Flag("collector.dmi.serials", "Report serial numbers and the SMBIOS UUID.").Default("false").BoolVar(&opts.Collector.Serials)
	exclude := app.Flag("collector.network.device-exclude", "Regexp of network interfaces to leave out.").Default(collector.DefaultNetworkDeviceExclude).String()
	app.Flag("collector.container.docker-socket", "Docker Engine API socket under --path.rootfs (Docker, podman); repeatable.").Default(collector.DefaultDockerSockets()...).StringsVar(&opts.Collector.DockerSockets)
	app.Flag("collector.container.cri-socket", "CRI API socket under --path.rootfs (containerd, CRI-O); repeatable.").Default(collector.DefaultCRISockets()...).StringsVar(&opts.Collector.CRISockets)
	allow := app.Flag("collector.container.labels-allowlist", `Comma-separated container labels exported as label_<name> on strata_container_labels; "*" for all.`).
		Default(collector.DefaultLabelAllowlist).String()

	enabled := map[string]*bool{}
	for _, f := range collector.Factories() {
		def := "false"
		if f.DefaultEnabled {
			def = "true"
		}
		enabled[f.Name] = app.Flag("collector."+f.Name, fmt.Sprintf("Enable the %s collector: %s.", f.Name, f.Help)).Default(def).Bool()
	}
	logConfig := &promslog.Config{}
	promslogflag.AddFlags(app, logConfig)
	app.Version(version.Print("strata-exporter"))
	app.HelpFlag.Short('h')
	if _, err := app.Parse(args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	logger := promslog.New(logConfig)

	re, err := regexp.Compile(*exclude)
	if err != nil {
		logger.Error("invalid --collector.network.device-exclude", "err", err)
		return 2
	}
	opts.Collector.NetworkDeviceExclude = re
	opts.Collector.AddressLister = collector.NewNetlinkAddressLister()
	opts.Collector.ContainerLabelAllowlist = collector.SplitList(*allow)
	for _, f := range collector.Factories() {
		if *enabled[f.Name] {
			opts.Enabled = append(opts.Enabled, f.Name)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := exporter.Run(ctx, opts, logger); err != nil {
		logger.Error("strata-exporter stopped", "err", err)
		return 1
	}
	return 0
}
