package httpapi

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/jobspec"
	"github.com/nomadic-project/nomadic/pkg/ui"
)

// The web UI's page and files answer without a token: they hold no data,
// and the page asks the user for a token before it reads the API. The
// root URL only redirects to the UI.
func init() {
	for _, p := range ui.Paths() {
		openPaths[p] = true
	}
	openPaths["/"] = true
	openPaths["/ui"] = true
}

// redirectToUI answers the root URL with the web UI.
func redirectToUI(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, ui.Prefix, http.StatusFound)
}

// UISnapshot is the answer of GET /v1/ui/snapshot: the cluster in compact
// rows, read at Index. The web UI keeps it and changes it with the events
// of the event stream from Index on, so a dashboard of thousands of nodes
// is read once rather than on every change. Allocations, the bulk of it,
// go as arrays (see appendAlloc) rather than objects.
type UISnapshot struct {
	Index       int64             `json:"index"`
	Jobs        []*UIJob          `json:"jobs,omitempty"`
	Nodes       []*UINode         `json:"nodes,omitempty"`
	Evals       []*api.Evaluation `json:"evals,omitempty"`
	Deployments []*api.Deployment `json:"deployments,omitempty"`
	Servers     []*api.Server     `json:"servers,omitempty"`
}

// UIJob is the row of a job: what lists and the job's status need.
type UIJob struct {
	ID        string    `json:"id"`
	Namespace string    `json:"ns"`
	Name      string    `json:"name,omitempty"`
	Type      string    `json:"type"`
	Priority  int       `json:"priority"`
	Version   uint64    `json:"version"`
	Stop      bool      `json:"stop,omitempty"`
	Template  bool      `json:"template,omitempty"`
	ParentID  string    `json:"parent,omitempty"`
	Submit    time.Time `json:"submit,omitzero"`
	Groups    []UIGroup `json:"groups"`
}

// UIGroup is a task group's name and count.
type UIGroup struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// Flags of an allocation row.
const (
	uiAllocLost = 1 << iota
	uiAllocDisconnected
	uiAllocCanary
)

// strtab numbers the strings of the allocation rows: namespaces, jobs,
// groups, nodes and statuses repeat across thousands of rows, so each goes
// once in the snapshot's "strings" and rows name it by its position.
type strtab struct {
	index map[string]int
	list  []string
	// last is the last string of each field and its position: rows in a
	// row often share them, and a comparison is cheaper than a lookup.
	last [7]struct {
		s  string
		id int64
		ok bool
	}
}

// field returns the position of s, the value of field f of a row.
func (t *strtab) field(f int, s string) int64 {
	l := &t.last[f]
	if l.ok && l.s == s {
		return l.id
	}
	l.s, l.id, l.ok = s, t.id(s), true
	return l.id
}

func (t *strtab) id(s string) int64 {
	if i, ok := t.index[s]; ok {
		return int64(i)
	}
	if t.index == nil {
		t.index = map[string]int{}
	}
	t.index[s] = len(t.list)
	t.list = append(t.list, s)
	return int64(len(t.list) - 1)
}

// appendAlloc appends an allocation's row: a JSON array of its ID, then
// as positions in the string table its namespace, job and group, its
// index, its node, desired status and the client status its node
// reported ("" before any report), flags (1 lost, 2 disconnected, 4
// canary), cpu, memory in MiB, job version, deployment (a position too),
// health (0 undecided, 1 healthy, 2 unhealthy) and modify time in Unix
// milliseconds. The page derives the client status from it as
// api.Allocation.ClientStatusOf does. 50,000 allocations take about 4 MB
// this way, a quarter of what objects take, and encode many times faster.
func appendAlloc(b []byte, a *api.Allocation, t *strtab) []byte {
	b = append(b, '[')
	b = appendString(b, a.ID)
	reported := ""
	if a.Status != nil {
		reported = a.Status.ClientStatus
	}
	flags := 0
	if a.NodeLost {
		flags |= uiAllocLost
	}
	if !a.DisconnectTime.IsZero() {
		flags |= uiAllocDisconnected
	}
	if a.Canary {
		flags |= uiAllocCanary
	}
	health := 0
	if h := a.Health(); h != nil {
		health = 2
		if h.Healthy {
			health = 1
		}
	}
	for _, n := range [...]int64{t.field(0, a.Namespace), t.field(1, a.JobID), t.field(2, a.TaskGroup), int64(a.Index),
		t.field(3, a.NodeID), t.field(4, a.DesiredStatus), t.field(5, reported), int64(flags), int64(a.Resources.CPU),
		int64(a.Resources.MemoryMB), int64(a.JobVersion), t.field(6, a.DeploymentID), int64(health), max(a.ModifyTime.UnixMilli(), 0)} {
		b = append(b, ',')
		b = strconv.AppendInt(b, n, 10)
	}
	return append(b, ']')
}

// appendString appends s as a JSON string: as it is when it is printable
// ASCII without quotes or backslashes (IDs, names), through encoding/json
// otherwise.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// UINode is the row of a node.
type UINode struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Datacenter string          `json:"dc"`
	NodePool   string          `json:"pool,omitempty"`
	NodeClass  string          `json:"class,omitempty"`
	Status     string          `json:"status"`
	Eligible   bool            `json:"eligible"`
	Draining   bool            `json:"drain,omitempty"`
	Address    string          `json:"addr,omitempty"`
	CPU        int             `json:"cpu"`
	MemoryMB   int             `json:"mem"`
	DiskMB     int             `json:"disk,omitempty"`
	Drivers    map[string]bool `json:"drivers,omitempty"`
}

// uiKinds are what GET /v1/ui/snapshot?kinds= may ask for.
var uiKinds = []string{"jobs", "allocs", "nodes", "evals", "deployments", "servers"}

// uiSnapshot serves GET /v1/ui/snapshot?kinds=jobs,allocs,…: the kinds
// asked for (all without kinds), gzipped when the client accepts it.
func (s *Server) uiSnapshot(w http.ResponseWriter, r *http.Request) {
	want := map[string]bool{}
	for _, k := range strings.Split(r.URL.Query().Get("kinds"), ",") {
		if k = strings.TrimSpace(k); k == "" {
			continue
		}
		known := false
		for _, u := range uiKinds {
			known = known || u == k
		}
		if !known {
			writeError(w, http.StatusBadRequest, fmt.Errorf("unknown kind %q (%s)", k, strings.Join(uiKinds, ", ")))
			return
		}
		want[k] = true
	}
	if len(want) == 0 {
		for _, k := range uiKinds {
			want[k] = true
		}
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	rev, err := s.Store.Revision(ctx)
	if err != nil {
		storeError(w, "revision", err)
		return
	}
	snap := &UISnapshot{Index: rev}
	if want["jobs"] {
		list, err := s.Store.ListJobs(ctx, "")
		if err != nil {
			storeError(w, "jobs", err)
			return
		}
		snap.Jobs = make([]*UIJob, 0, len(list))
		for _, j := range list {
			snap.Jobs = append(snap.Jobs, uiJob(j))
		}
	}
	var allocs []*api.Allocation
	if want["allocs"] || want["nodes"] {
		// The servers' cache answers this without copying or sorting.
		cluster, err := s.Store.ReadSnapshot(ctx)
		if err != nil {
			storeError(w, "cluster", err)
			return
		}
		allocs = cluster.Allocs
		if want["nodes"] {
			snap.Nodes = make([]*UINode, 0, len(cluster.Nodes))
			for _, n := range cluster.Nodes {
				snap.Nodes = append(snap.Nodes, uiNode(n))
			}
		}
	}
	if want["evals"] {
		if snap.Evals, err = s.Store.ListEvals(ctx, "", ""); err != nil {
			storeError(w, "evaluations", err)
			return
		}
	}
	if want["deployments"] {
		if snap.Deployments, err = s.Store.ListDeployments(ctx, "", ""); err != nil {
			storeError(w, "deployments", err)
			return
		}
	}
	if want["servers"] {
		if snap.Servers, err = s.Store.ListServers(ctx); err != nil {
			storeError(w, "servers", err)
			return
		}
		leader, err := s.Store.ElectionLeader(ctx)
		if err != nil {
			storeError(w, "servers", err)
			return
		}
		for _, srv := range snap.Servers {
			srv.Leader = srv.Name == leader
		}
	}
	head, err := json.Marshal(snap)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set(IndexHeader, strconv.FormatInt(rev, 10))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Vary", "Accept-Encoding")
	var out io.Writer = w
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		w.Header().Set("Content-Encoding", "gzip")
		// Huffman coding alone: a third of the size of the JSON at a
		// fraction of the cost of BestSpeed, which cost more time than
		// it saved for a dashboard near its server.
		gz, _ := gzip.NewWriterLevel(w, gzip.HuffmanOnly)
		defer gz.Close()
		out = gz
	}
	w.WriteHeader(http.StatusOK)
	// The object, with the allocations' rows spliced in before its end.
	buf := head[:len(head)-1]
	if want["allocs"] {
		var strs strtab
		buf = append(buf, `,"allocs":[`...)
		for i, a := range allocs {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendAlloc(buf, a, &strs)
			if len(buf) > 64<<10 {
				if _, err := out.Write(buf); err != nil {
					return
				}
				buf = buf[:0]
			}
		}
		buf = append(buf, `],"strings":[`...)
		for i, str := range strs.list {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendString(buf, str)
		}
		buf = append(buf, ']')
	}
	buf = append(buf, "}\n"...)
	_, _ = out.Write(buf)
}

func uiJob(j *api.Job) *UIJob {
	row := &UIJob{ID: j.ID, Namespace: j.Namespace, Name: j.Name, Type: j.Type, Priority: j.Priority, Version: j.Version,
		Stop: j.Stop, Template: j.IsTemplate(), ParentID: j.ParentID, Submit: j.SubmitTime, Groups: make([]UIGroup, 0, len(j.Groups))}
	for _, g := range j.Groups {
		row.Groups = append(row.Groups, UIGroup{Name: g.Name, Count: g.Count})
	}
	return row
}

func uiNode(n *api.Node) *UINode {
	row := &UINode{ID: n.ID, Name: n.Name, Datacenter: n.Datacenter, NodePool: n.NodePool, NodeClass: n.NodeClass,
		Status: n.Status, Eligible: n.Eligible, Draining: n.Drain != nil, Address: n.Address, CPU: n.Resources.CPU,
		MemoryMB: n.Resources.MemoryMB, DiskMB: n.Resources.DiskMB}
	for name, d := range n.Drivers {
		if d.Detected {
			if row.Drivers == nil {
				row.Drivers = map[string]bool{}
			}
			row.Drivers[name] = d.Healthy
		}
	}
	return row
}

// ParseJobRequest is the body of POST /v1/jobs/parse: a job file's text,
// and its name when the format should follow the extension (.json,
// .yaml; HCL otherwise).
type ParseJobRequest struct {
	Source   string `json:"source"`
	Filename string `json:"filename,omitempty"`
}

// parseJob serves POST /v1/jobs/parse: a job file read as nctl reads it,
// answered as the job it describes (defaults applied, validated), so that
// the web UI can plan and submit a pasted file. Problems are a 400 with
// every one of them and its place (file:line:col).
func (s *Server) parseJob(w http.ResponseWriter, r *http.Request) {
	var req ParseJobRequest
	if !decodeBody(w, r, &req) {
		return
	}
	name := req.Filename
	if name == "" {
		name = "job.hcl"
	}
	job, err := jobspec.ParseWithOptions(name, []byte(req.Source), &jobspec.Options{NoFiles: true})
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusOK, job)
}
