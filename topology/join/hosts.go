package join

import (
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/strata-obs/strata/topology/graph"
	"github.com/strata-obs/strata/topology/source"
)

// Hosts: the reports of several sources about one machine become one host entity.

// hostGroup is the records of one host, from all sources.
type hostGroup struct {
	records []hostRecord
	ref     graph.Ref
	entity  *graph.Entity // in the graph
}

type hostRecord struct {
	*source.Host // the source's record, not a copy
	src          string
	seen         time.Time
	stale        bool
}

func (h *hostGroup) machineIDs() []string {
	return h.collect(func(r hostRecord) string { return r.MachineID })
}
func (h *hostGroup) uuids() []string {
	return h.collect(func(r hostRecord) string { return strings.ToLower(r.SystemUUID) })
}

func (h *hostGroup) collect(f func(hostRecord) string) []string {
	var out []string
	for _, r := range h.records {
		if v := f(r); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// conflicts tells two groups that cannot be one host: different machine-ids or UUIDs.
func conflicts(a, b *hostGroup) bool {
	disjoint := func(x, y []string) bool {
		if len(x) == 0 || len(y) == 0 {
			return false
		}
		for _, v := range x {
			if slices.Contains(y, v) {
				return false
			}
		}
		return true
	}
	return disjoint(a.machineIDs(), b.machineIDs()) || disjoint(a.uuids(), b.uuids())
}

// hosts groups the host records of every fact source into hosts and puts them in the graph.
func (j *joiner) hosts() {
	addressOnly := j.groupByIdentity(j.hostRecords())
	ambiguousAddr := j.indexHosts()
	j.groupByAddress(addressOnly, ambiguousAddr)
	j.putHosts()
}

// hostRecords are the host records of every fact source, strongest origin first: it names the
// host and its facts win.
func (j *joiner) hostRecords() []hostRecord {
	var records []hostRecord
	for _, rep := range j.in.Facts {
		if rep.Facts == nil {
			continue
		}
		for i := range rep.Facts.Hosts {
			records = append(records, hostRecord{&rep.Facts.Hosts[i], rep.Source, rep.Seen, rep.Stale})
		}
	}
	sort.SliceStable(records, func(a, b int) bool { return records[a].Origin < records[b].Origin })
	return records
}

// identityKeys are the keys by which records of one host find each other.
func identityKeys(r hostRecord) []string {
	var ks []string
	if r.MachineID != "" {
		ks = append(ks, "m:"+r.MachineID)
	}
	if r.SystemUUID != "" {
		ks = append(ks, "u:"+strings.ToLower(r.SystemUUID))
	}
	if r.Name != "" {
		ks = append(ks, "n:"+r.Name)
	}
	if r.Hostname != "" {
		ks = append(ks, "n:"+r.Hostname)
	}
	return ks
}

// groupByIdentity puts each record that has a name, hostname, machine-id or SMBIOS UUID into
// the first group it shares one with and does not conflict with, or a new group; it returns
// the records that have addresses only.
func (j *joiner) groupByIdentity(records []hostRecord) (addressOnly []hostRecord) {
	byKey := map[string][]*hostGroup{}
	for _, r := range records {
		ks := identityKeys(r)
		if len(ks) == 0 {
			addressOnly = append(addressOnly, r)
			continue
		}
		probe := &hostGroup{records: []hostRecord{r}}
		var target *hostGroup
		for _, k := range ks {
			for _, g := range byKey[k] {
				if !conflicts(g, probe) {
					target = g
					break
				}
			}
			if target != nil {
				break
			}
		}
		if target == nil {
			target = &hostGroup{}
			j.groups = append(j.groups, target)
		}
		target.records = append(target.records, r)
		for _, k := range ks {
			if !slices.Contains(byKey[k], target) {
				byKey[k] = append(byKey[k], target)
			}
		}
	}
	return addressOnly
}

// indexHosts indexes the names and addresses that lead to exactly one host, warning of a name
// two hosts answer to; it returns the addresses that lead to several.
func (j *joiner) indexHosts() (ambiguousAddr map[string]bool) {
	j.hostByName, j.hostByAddr = map[string]*hostGroup{}, map[string]*hostGroup{}
	ambiguousName, ambiguousAddr := map[string]bool{}, map[string]bool{}
	for _, g := range j.groups {
		for _, r := range g.records {
			for _, n := range []string{r.Name, r.Hostname} {
				if n == "" || ambiguousName[n] {
					continue
				}
				if other, ok := j.hostByName[n]; ok && other != g {
					ambiguousName[n] = true
					delete(j.hostByName, n)
					j.warn("two hosts answer to the name %q (machine-ids %s and %s): they stay apart, and %q alone resolves to neither",
						n, strings.Join(other.machineIDs(), ","), strings.Join(g.machineIDs(), ","), n)
					continue
				}
				j.hostByName[n] = g
			}
			for _, a := range r.Addresses {
				a = hostOnly(a)
				if !routable(a) || ambiguousAddr[a] {
					continue
				}
				if other, ok := j.hostByAddr[a]; ok && other != g {
					ambiguousAddr[a] = true
					delete(j.hostByAddr, a)
					continue
				}
				j.hostByAddr[a] = g
			}
		}
	}
	return ambiguousAddr
}

// groupByAddress puts each record known by its addresses alone into the host that owns one of
// them, or a new host.
func (j *joiner) groupByAddress(addressOnly []hostRecord, ambiguousAddr map[string]bool) {
	for _, r := range addressOnly {
		var target *hostGroup
		for _, a := range r.Addresses {
			if g, ok := j.hostByAddr[hostOnly(a)]; ok {
				target = g
				break
			}
		}
		if target == nil {
			target = &hostGroup{}
			j.groups = append(j.groups, target)
			for _, a := range r.Addresses {
				if a = hostOnly(a); routable(a) && !ambiguousAddr[a] {
					j.hostByAddr[a] = target
				}
			}
		}
		target.records = append(target.records, r)
	}
}

// putHosts gives each host its identity, the strongest record's name (made unique with the
// machine-id where two hosts share it), and puts every record of it in the graph.
func (j *joiner) putHosts() {
	taken := map[string]int{}
	for _, g := range j.groups {
		taken[g.name()]++
	}
	for _, g := range j.groups {
		id := g.name()
		if taken[id] > 1 {
			if mids := g.machineIDs(); len(mids) > 0 {
				id += "~" + mids[0][:min(8, len(mids[0]))]
			}
		}
		g.ref = graph.Ref{Kind: graph.Host, ID: id}
		var derived []graph.Attr
		if j.in.HostAttrs != nil {
			derived = j.in.HostAttrs(g.attr)
		}
		for i, r := range g.records {
			e := &graph.Entity{Ref: g.ref, Name: g.name(), Attrs: j.attrs(len(r.Attrs) + 4 + len(derived)), Labels: r.Labels,
				Sources: j.g.Single(r.src), LastSeen: r.seen, Stale: r.stale}
			for k, v := range r.Attrs {
				e.Attrs = append(e.Attrs, graph.Attr{Name: k, Value: v})
			}
			if i == 0 {
				for _, a := range derived {
					e.Attrs.Set(a.Name, a.Value)
				}
			}
			e.Attrs.Sort() // a map's order is random: the same host's facts in the same order every time
			e.Attrs.SetIf("hostname", r.Hostname)
			e.Attrs.SetIf("machine_id", r.MachineID)
			// The SMBIOS UUID counts as a serial number: shown only where the exporter was asked
			// for serials (--collector.dmi.serials); the Kubernetes API and kube-state-metrics
			// report it whatever that says, and it serves only to match hosts.
			if r.Origin == source.OriginExporter {
				e.Attrs.SetIf("system_uuid", strings.ToLower(r.SystemUUID))
			}
			if len(r.Addresses) > 0 {
				e.Attrs.Set("addresses", strings.Join(sortedUnique(r.Addresses), ","))
			}
			g.entity = j.put(e)
		}
	}
}

// attr is a fact of the host: the strongest record's that has it.
func (g *hostGroup) attr(name string) string {
	for _, r := range g.records {
		if v := r.Attrs[name]; v != "" {
			return v
		}
	}
	return ""
}

func (g *hostGroup) name() string {
	for _, r := range g.records {
		if r.Name != "" {
			return r.Name
		}
	}
	for _, r := range g.records {
		if r.Hostname != "" {
			return r.Hostname
		}
	}
	if len(g.records) > 0 && len(g.records[0].Addresses) > 0 {
		return g.records[0].Addresses[0]
	}
	return "unknown"
}

// hostOf resolves a host label from a fact record.
func (j *joiner) hostOf(name string) *hostGroup {
	if g, ok := j.hostByName[name]; ok {
		return g
	}
	return nil
}
