package haproxy

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/strata-obs/strata/topology/source"
)

// RowType is what a row of the stats CSV describes (HAProxy's `type` column).
type RowType int

// HAProxy's values of the `type` column.
const (
	RowFrontend RowType = 0
	RowBackend  RowType = 1
	RowServer   RowType = 2
	RowListener RowType = 3
)

// StatRow is one row of HAProxy's stats CSV: `show stat` on the runtime API, or the stats page
// with ;csv.
type StatRow struct {
	Line   int    // line in the answer, for messages
	Proxy  string // pxname: the frontend, backend or listen section
	Name   string // svname: a server's or listener's name, or FRONTEND / BACKEND
	Type   RowType
	Status string // as HAProxy writes it: "UP", "DOWN 1/2", "MAINT (via b/s)", "no check", …
	// Weight is the weight the operator set (uweight, or weight where HAProxy has no uweight).
	Weight int
	// Addr is "ip:port" of a server or listener. HAProxy fills it only for the runtime API at
	// operator level or above, or for a stats page with `stats show-legends`.
	Addr string
	// Traffic is what HAProxy counts of a server or backend: requests (req_tot, else stot in
	// TCP mode), 5xx responses, connection and response errors, current sessions, and the
	// average response time of the last 1024 requests (rtime, in ms); nil for other rows.
	Traffic source.Traffic
}

// maxHeaderLine bounds the header line: HAProxy's is under 3 KiB, and a peer that is not
// HAProxy must not make us buffer an endless line.
const maxHeaderLine = 64 << 10

// ParseStat parses HAProxy's stats CSV. Columns are found by their names in the header, since
// HAProxy versions add and move columns; pxname, svname and status must be there.
func ParseStat(r io.Reader) ([]StatRow, error) {
	end := &lastByteReader{r: r}
	br := bufio.NewReader(end)
	header, err := readHeaderLine(br)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(header, "# ") {
		return nil, fmt.Errorf("line 1: want the stats CSV header %q, got %s", "# pxname,svname,…", describeLine(header))
	}
	cols, err := newStatColumns(strings.Split(header[2:], ","))
	if err != nil {
		return nil, fmt.Errorf("line 1: %w", err)
	}

	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1 // checked here, to say what a short row means
	cr.ReuseRecord = true
	var rows []StatRow
	line := 1
	for {
		record, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(err, line+1)
		}
		line, _ = cr.FieldPos(0)
		line++ // the csv reader counts from the line after the header
		if len(record) != cols.count {
			return nil, fmt.Errorf("line %d: %d fields, the header has %d: a truncated or foreign answer", line, len(record), cols.count)
		}
		row, err := cols.row(record)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		row.Line = line
		rows = append(rows, row)
	}
	if !end.endsLine() {
		return nil, fmt.Errorf("line %d: the answer ends inside a line: truncated", line)
	}
	return rows, nil
}

// statColumns is where each column ParseStat uses sits in this answer; -1 when absent.
type statColumns struct {
	count                  int // fields in the header, and so in every row
	pxname, svname, status int // required
	typ, weight, uweight   int
	addr                   int
	// The traffic columns, by their Traffic key; rtime is in milliseconds.
	reqTot, stot, hrsp2xx, hrsp3xx, hrsp4xx, hrsp5xx, econ, eresp, scur, qcur, rtime int
}

func newStatColumns(names []string) (statColumns, error) {
	c := statColumns{count: len(names)}
	index := func(name string) int {
		for i, n := range names {
			if n == name {
				return i
			}
		}
		return -1
	}
	c.pxname, c.svname, c.status = index("pxname"), index("svname"), index("status")
	c.typ, c.weight, c.uweight, c.addr = index("type"), index("weight"), index("uweight"), index("addr")
	c.reqTot, c.stot, c.hrsp5xx, c.econ = index("req_tot"), index("stot"), index("hrsp_5xx"), index("econ")
	c.eresp, c.scur, c.qcur, c.rtime = index("eresp"), index("scur"), index("qcur"), index("rtime")
	c.hrsp2xx, c.hrsp3xx, c.hrsp4xx = index("hrsp_2xx"), index("hrsp_3xx"), index("hrsp_4xx")
	for _, required := range []struct {
		name string
		at   int
	}{{"pxname", c.pxname}, {"svname", c.svname}, {"status", c.status}} {
		if required.at < 0 {
			return c, fmt.Errorf("the header has no %s column", required.name)
		}
	}
	return c, nil
}

func (c statColumns) row(record []string) (StatRow, error) {
	field := func(i int) string {
		if i < 0 {
			return ""
		}
		return record[i]
	}
	row := StatRow{
		Proxy:  field(c.pxname),
		Name:   field(c.svname),
		Status: field(c.status),
		Addr:   field(c.addr),
	}
	switch {
	case c.typ >= 0:
		n, err := strconv.Atoi(field(c.typ))
		if err != nil {
			return row, fmt.Errorf("type %q is not a number", field(c.typ))
		}
		row.Type = RowType(n)
	case row.Name == "FRONTEND":
		row.Type = RowFrontend
	case row.Name == "BACKEND":
		row.Type = RowBackend
	default:
		row.Type = RowServer // HAProxy before 1.5 had no type column and no listener rows
	}
	// uweight stays what the operator set while slowstart or an agent scales weight.
	name, w := "uweight", field(c.uweight)
	if w == "" {
		name, w = "weight", field(c.weight)
	}
	if w != "" {
		n, err := strconv.Atoi(w)
		if err != nil {
			return row, fmt.Errorf("%s %q is not a number", name, w)
		}
		row.Weight = n
	}
	if row.Type == RowServer || row.Type == RowBackend {
		t, err := c.traffic(field)
		if err != nil {
			return row, err
		}
		row.Traffic = t
	}
	return row, nil
}

// traffic reads a server's or backend's counters; an empty field is a counter HAProxy does not
// keep for this row (req_tot and hrsp_* in TCP mode), left out rather than taken for zero.
func (c statColumns) traffic(field func(int) string) (source.Traffic, error) {
	t := source.Traffic{}
	for _, col := range []struct {
		key   string
		at    int
		scale float64
	}{
		{source.TrafficRequests, c.stot, 1},
		{source.TrafficRequests, c.reqTot, 1}, // HTTP requests where HAProxy counts them
		{source.TrafficHTTP2xx, c.hrsp2xx, 1},
		{source.TrafficHTTP3xx, c.hrsp3xx, 1},
		{source.TrafficHTTP4xx, c.hrsp4xx, 1},
		{source.TrafficHTTP5xx, c.hrsp5xx, 1},
		{source.TrafficConnErrors, c.econ, 1},
		{source.TrafficRespErrors, c.eresp, 1},
		{source.TrafficSessions, c.scur, 1},
		{source.TrafficQueue, c.qcur, 1},
		{source.TrafficResponseTime, c.rtime, 0.001},
	} {
		v := field(col.at)
		if v == "" {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s %q is not a count", col.key, v)
		}
		t[col.key] = float64(n) * col.scale
	}
	if len(t) == 0 {
		return nil, nil
	}
	return t, nil
}

// ServerState is one server of `show servers state`.
type ServerState struct {
	Line    int // line in the answer, for messages
	Backend string
	Server  string
	Address string // srv_addr; empty while a host name has not resolved
	FQDN    string // srv_fqdn: the host name in the configuration, if any
	Port    int
}

// maxStateLine bounds a line of `show servers state`; HAProxy's are under 300 bytes.
const maxStateLine = 64 << 10

// ParseServersState parses the answer to `show servers state`: a version line ("1"), a header
// line naming the columns, and one space-separated row per server. Columns are found by name.
func ParseServersState(r io.Reader) ([]ServerState, error) {
	end := &lastByteReader{r: r}
	sc := bufio.NewScanner(end)
	sc.Buffer(make([]byte, 0, 4096), maxStateLine)
	line := 0
	next := func() (string, bool) {
		ok := sc.Scan()
		line++
		return sc.Text(), ok
	}
	scanError := func() error {
		if errors.Is(sc.Err(), bufio.ErrTooLong) {
			return fmt.Errorf("line %d: longer than %d bytes: not a servers state answer", line, maxStateLine)
		}
		return fmt.Errorf("line %d: read: %w", line, sc.Err())
	}

	version, ok := next()
	if !ok {
		if sc.Err() != nil {
			return nil, scanError()
		}
		return nil, errors.New("line 1: empty answer, want the servers state version line")
	}
	if strings.TrimSpace(version) != "1" {
		return nil, fmt.Errorf("line 1: want servers state version %q, got %s", "1", describeLine(version))
	}
	header, ok := next()
	if !ok {
		if sc.Err() != nil {
			return nil, scanError()
		}
		return nil, errors.New("line 2: the answer ends before the header line")
	}
	if !strings.HasPrefix(header, "# ") {
		return nil, fmt.Errorf("line 2: want the header %q, got %s", "# be_id be_name …", describeLine(header))
	}
	names := strings.Fields(header[2:])
	index := make(map[string]int, len(names))
	for i, n := range names {
		index[n] = i
	}
	for _, required := range []string{"be_name", "srv_name", "srv_addr", "srv_port"} {
		if _, ok := index[required]; !ok {
			return nil, fmt.Errorf("line 2: the header has no %s column", required)
		}
	}
	fqdn, hasFQDN := index["srv_fqdn"]

	var states []ServerState
	for {
		text, ok := next()
		if !ok {
			break
		}
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue // the runtime API ends its answer with an empty line
		}
		if len(fields) != len(names) {
			return nil, fmt.Errorf("line %d: %d fields, the header has %d: a truncated or foreign answer", line, len(fields), len(names))
		}
		port, err := strconv.Atoi(fields[index["srv_port"]])
		if err != nil || port < 0 || port > 65535 {
			return nil, fmt.Errorf("line %d: srv_port %q is not a port", line, fields[index["srv_port"]])
		}
		st := ServerState{
			Line:    line,
			Backend: fields[index["be_name"]],
			Server:  fields[index["srv_name"]],
			Address: dashEmpty(fields[index["srv_addr"]]),
			Port:    port,
		}
		if hasFQDN {
			st.FQDN = dashEmpty(fields[fqdn])
		}
		states = append(states, st)
	}
	if sc.Err() != nil {
		return nil, scanError()
	}
	if !end.endsLine() {
		return nil, fmt.Errorf("line %d: the answer ends inside a line: truncated", line-1)
	}
	return states, nil
}

// dashEmpty reads HAProxy's "-" for "none" as empty.
func dashEmpty(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

// readHeaderLine reads the first line, without its line end, up to maxHeaderLine bytes.
func readHeaderLine(br *bufio.Reader) (string, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		switch {
		case len(line) > maxHeaderLine:
			return "", fmt.Errorf("line 1: longer than %d bytes: not a stats CSV header", maxHeaderLine)
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && len(line) == 0:
			return "", errors.New("line 1: empty answer, want the stats CSV header")
		case err != nil && err != io.EOF:
			return "", fmt.Errorf("line 1: read: %w", err)
		}
		return strings.TrimRight(string(line), "\r\n"), nil
	}
}

// csvError says where the CSV went wrong, with the line counted from the answer's start.
func csvError(err error, line int) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("line %d, column %d: %w", pe.Line+1, pe.Column, pe.Err)
	}
	return fmt.Errorf("line %d: read: %w", line, err)
}

// describeLine quotes the start of a line that is not what was expected, with a hint for the
// answers seen in practice instead of HAProxy's.
func describeLine(line string) string {
	const max = 80
	quoted := line
	if len(quoted) > max {
		quoted = quoted[:max] + "…"
	}
	s := strconv.Quote(quoted)
	switch lower := strings.ToLower(strings.TrimSpace(line)); {
	case strings.HasPrefix(lower, "<"):
		s += " (an HTML page: a proxy's error page, or a stats URL without ;csv)"
	case strings.HasPrefix(lower, "unknown command"):
		s += " (HAProxy does not know the command at this level)"
	case lower == "":
		s += " (an empty line)"
	}
	return s
}

// lastByteReader remembers the last byte read, to tell a complete answer (ending in a line
// end) from one cut short.
type lastByteReader struct {
	r    io.Reader
	last byte
	any  bool
}

func (l *lastByteReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if n > 0 {
		l.last, l.any = p[n-1], true
	}
	return n, err
}

func (l *lastByteReader) endsLine() bool { return !l.any || l.last == '\n' }

// splitAddr splits HAProxy's "ip:port" (or "[ipv6]:port"). An address without a port, such
// as a unix socket path, is returned whole with port 0.
func splitAddr(addr string) (string, int) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 0
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return addr, 0
	}
	return host, port
}
