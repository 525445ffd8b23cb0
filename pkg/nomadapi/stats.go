package nomadapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// Resource usage (`nomad alloc status`, `nomad node status`), measured by
// the node agent when asked and shaped as Nomad's.

// MemoryStats is a task's memory use.
type MemoryStats struct {
	RSS, Cache, Swap, Usage, MaxUsage, KernelUsage, KernelMaxUsage uint64
	Measured                                                       []string
}

// CpuStats is a task's CPU use; TotalTicks is in MHz, as Nomad counts
// compute.
type CpuStats struct { //nolint:revive // Nomad's name
	SystemMode, UserMode, TotalTicks float64
	ThrottledPeriods, ThrottledTime  uint64
	Percent                          float64
	Measured                         []string
}

// ResourceUsage is memory and CPU use.
type ResourceUsage struct {
	MemoryStats *MemoryStats
	CpuStats    *CpuStats
	DeviceStats []any
}

// TaskResourceUsage is a task's use.
type TaskResourceUsage struct {
	ResourceUsage *ResourceUsage
	Timestamp     int64
	Pids          map[string]*ResourceUsage
}

// AllocResourceUsage is an allocation's use: its tasks' and their sum.
type AllocResourceUsage struct {
	ResourceUsage *ResourceUsage
	Tasks         map[string]*TaskResourceUsage
	Timestamp     int64
}

// allocNode reads an allocation and its node.
func (s *Server) allocNode(r *http.Request, id string) (*api.Allocation, *api.Node, error) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	a, err := s.findAlloc(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	node, err := s.Store.GetNode(ctx, a.NodeID)
	if err != nil {
		return nil, nil, err
	}
	return a, node, nil
}

// nodeJSON asks node for path and decodes its JSON answer into v.
func (s *Server) nodeJSON(r *http.Request, node *api.Node, path string, v any) error {
	resp, err := s.nodeGet(r, node, path, url.Values{})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(v); err != nil {
		return &httpError{code: http.StatusBadGateway, msg: "the node's answer: " + err.Error()}
	}
	return nil
}

func (s *Server) allocStats(w http.ResponseWriter, r *http.Request) error {
	a, node, err := s.allocNode(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	var u api.AllocUsage
	if err := s.nodeJSON(r, node, "/v1/client/usage/"+url.PathEscape(a.ID), &u); err != nil {
		return err
	}
	perCoreMHz := 0.0
	if cores := coresOf(node); cores > 0 && node.Resources.CPU > 0 {
		perCoreMHz = float64(node.Resources.CPU) / float64(cores)
	}
	out := &AllocResourceUsage{Tasks: map[string]*TaskResourceUsage{}, Timestamp: u.Time.UnixNano(),
		ResourceUsage: &ResourceUsage{MemoryStats: &MemoryStats{}, CpuStats: &CpuStats{}, DeviceStats: []any{}}}
	for name, t := range u.Tasks {
		ru := &ResourceUsage{
			MemoryStats: &MemoryStats{RSS: t.RSS, Cache: t.Cache, Swap: t.Swap, Usage: t.Usage, MaxUsage: t.MaxUsage, Measured: t.MemoryMeasured},
			CpuStats: &CpuStats{UserMode: t.UserSeconds, SystemMode: t.SystemSeconds, Percent: t.Percent,
				TotalTicks: t.Percent / 100 * perCoreMHz, Measured: t.CPUMeasured},
			DeviceStats: []any{},
		}
		out.Tasks[name] = &TaskResourceUsage{ResourceUsage: ru, Timestamp: t.Time.UnixNano(), Pids: map[string]*ResourceUsage{}}
		sum := out.ResourceUsage
		sum.MemoryStats.RSS += t.RSS
		sum.MemoryStats.Cache += t.Cache
		sum.MemoryStats.Swap += t.Swap
		sum.MemoryStats.Usage += t.Usage
		sum.MemoryStats.MaxUsage += t.MaxUsage
		sum.MemoryStats.Measured = t.MemoryMeasured
		sum.CpuStats.UserMode += ru.CpuStats.UserMode
		sum.CpuStats.SystemMode += ru.CpuStats.SystemMode
		sum.CpuStats.Percent += ru.CpuStats.Percent
		sum.CpuStats.TotalTicks += ru.CpuStats.TotalTicks
		sum.CpuStats.Measured = t.CPUMeasured
	}
	return s.reply(w, r, out)
}

// coresOf is the node's number of cores, as its fingerprint counted them.
func coresOf(n *api.Node) int {
	c, _ := strconv.Atoi(n.Attributes["cpu.numcores"])
	return c
}

// HostStats is a node's host, as Nomad shows it.
type HostStats struct {
	Memory           *HostMemoryStats
	CPU              []*HostCPUStats
	DiskStats        []*HostDiskStats
	AllocDirStats    *HostDiskStats
	DeviceStats      []any
	Uptime           uint64
	Timestamp        int64
	CPUTicksConsumed float64
}

// HostMemoryStats is the host's memory, in bytes.
type HostMemoryStats struct{ Total, Available, Used, Free uint64 }

// HostCPUStats is a core's use, in percent.
type HostCPUStats struct {
	CPU                       string
	User, System, Idle, Total float64
}

// HostDiskStats is a file system's size and use.
type HostDiskStats struct {
	Device, Mountpoint             string
	Size, Used, Available          uint64
	UsedPercent, InodesUsedPercent float64
}

func toHostDisk(d *api.HostDisk) *HostDiskStats {
	return &HostDiskStats{Device: d.Device, Mountpoint: d.Mountpoint, Size: d.Size, Used: d.Used, Available: d.Available,
		UsedPercent: d.UsedPercent, InodesUsedPercent: d.InodesUsedPercent}
}

// hostStats answers the host of ?node_id= (`nomad node status NODE`).
func (s *Server) hostStats(w http.ResponseWriter, r *http.Request) error {
	id := r.URL.Query().Get("node_id")
	if id == "" {
		return badRequest("node_id is required: nomadic's servers run no node agent of their own to answer for")
	}
	ctx, cancel := s.ctx(r)
	node, err := s.Store.GetNode(ctx, id)
	cancel()
	if err != nil {
		return err
	}
	var u api.HostUsage
	if err := s.nodeJSON(r, node, "/v1/client/usage", &u); err != nil {
		return err
	}
	out := &HostStats{Memory: &HostMemoryStats{Total: u.MemoryTotal, Available: u.MemoryAvailable, Free: u.MemoryFree},
		CPU: []*HostCPUStats{}, DiskStats: []*HostDiskStats{}, DeviceStats: []any{}, Uptime: u.UptimeSeconds,
		Timestamp: u.Time.UnixNano(), CPUTicksConsumed: u.CPUMHzUsed}
	if u.MemoryTotal > u.MemoryAvailable {
		out.Memory.Used = u.MemoryTotal - u.MemoryAvailable
	}
	for _, c := range u.CPUs {
		out.CPU = append(out.CPU, &HostCPUStats{CPU: c.Name, User: c.User, System: c.System, Idle: c.Idle, Total: c.User + c.System})
	}
	for i := range u.Disks {
		out.DiskStats = append(out.DiskStats, toHostDisk(&u.Disks[i]))
	}
	if u.AllocDir != nil {
		out.AllocDirStats = toHostDisk(u.AllocDir)
	}
	return s.reply(w, r, out)
}
