package nodeagent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// Resource usage of tasks and of the host, measured when asked (`nomad
// alloc status`, `nomad node status`): a task with a cgroup of its own
// (containerd, docker, exec) is measured by its cgroup, v1 or v2; a task
// that runs in the agent's own cgroup (raw_exec) by its main process. CPU
// percentages are over the time since the previous measurement.

// clockTicks is the kernel's USER_HZ, the unit of /proc's CPU times: 100
// on every Linux architecture nomadic runs on.
const clockTicks = 100

// cpuSample is a previous measurement, for percentages.
type cpuSample struct {
	seconds float64 // CPU time used
	at      time.Time
}

// usageState keeps the previous samples of tasks and of the host.
type usageState struct {
	mu    sync.Mutex
	tasks map[string]cpuSample // by allocation/task
	host  map[string][4]uint64 // by cpu: user, system, idle, total ticks
}

func (u *usageState) percent(key string, seconds float64, now time.Time) float64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.tasks == nil {
		u.tasks = map[string]cpuSample{}
	}
	prev, ok := u.tasks[key]
	u.tasks[key] = cpuSample{seconds: seconds, at: now}
	if !ok || !now.After(prev.at) || seconds < prev.seconds {
		return 0
	}
	return (seconds - prev.seconds) / now.Sub(prev.at).Seconds() * 100
}

// serveAllocUsage answers what the running tasks of an allocation use.
func (a *Agent) serveAllocUsage(w http.ResponseWriter, req *http.Request) {
	allocID := req.PathValue("alloc")
	a.mu.Lock()
	r := a.runners[allocID]
	a.mu.Unlock()
	if r == nil {
		http.Error(w, fmt.Sprintf(`{"error":"allocation %s does not run on this node"}`, allocID), http.StatusNotFound)
		return
	}
	pids := map[string]int{}
	r.mu.Lock()
	for name, h := range r.handles {
		if ts := r.status.Tasks[name]; ts != nil && ts.State == api.TaskStateRunning && h.PID() > 0 {
			pids[name] = h.PID()
		}
	}
	r.mu.Unlock()
	now := time.Now()
	out := &api.AllocUsage{Tasks: map[string]*api.TaskUsage{}, Time: now.UTC()}
	for name, pid := range pids {
		u, err := pidUsage(pid)
		if err != nil {
			continue // gone meanwhile
		}
		u.Percent = a.usage.percent(allocID+"/"+name, u.UserSeconds+u.SystemSeconds, now)
		u.Time = now.UTC()
		out.Tasks[name] = u
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// pidUsage measures the task whose main process is pid.
func pidUsage(pid int) (*api.TaskUsage, error) {
	own, err := cgroupsOf("self")
	if err != nil {
		return nil, err
	}
	theirs, err := cgroupsOf(strconv.Itoa(pid))
	if err != nil {
		return nil, err
	}
	if u, ok := cgroupUsage(own, theirs); ok {
		return u, nil
	}
	return processUsage(pid)
}

// cgroupsOf reads /proc/<pid>/cgroup: the path of each controller ("" is
// the unified hierarchy of cgroup v2).
func cgroupsOf(pid string) (map[string]string, error) {
	b, err := os.ReadFile("/proc/" + pid + "/cgroup")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out, nil
}

// cgroupUsage reads the task's cgroup, when it has one apart from the
// agent's.
func cgroupUsage(own, theirs map[string]string) (*api.TaskUsage, bool) {
	if mem, ok := theirs["memory"]; ok && mem != own["memory"] {
		return cgroupV1Usage(mem, theirs["cpuacct"])
	}
	if p, ok := theirs[""]; ok && p != own[""] && len(theirs) == 1 {
		return cgroupV2Usage(p)
	}
	return nil, false
}

// cgroupRoot finds a v1 controller's mount: /sys/fs/cgroup/<controller>,
// or a joint mount such as cpu,cpuacct.
func cgroupRoot(controller string) string {
	p := filepath.Join("/sys/fs/cgroup", controller)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	entries, _ := os.ReadDir("/sys/fs/cgroup")
	for _, e := range entries {
		for _, c := range strings.Split(e.Name(), ",") {
			if c == controller {
				return filepath.Join("/sys/fs/cgroup", e.Name())
			}
		}
	}
	return p
}

func cgroupV1Usage(memPath, cpuPath string) (*api.TaskUsage, bool) {
	mdir := filepath.Join(cgroupRoot("memory"), memPath)
	u := &api.TaskUsage{}
	var ok bool
	if v, err := readUint(filepath.Join(mdir, "memory.usage_in_bytes")); err == nil {
		u.Usage, ok = v, true
	}
	if v, err := readUint(filepath.Join(mdir, "memory.max_usage_in_bytes")); err == nil {
		u.MaxUsage = v
	}
	st := readKeyed(filepath.Join(mdir, "memory.stat"))
	u.RSS, u.Cache, u.Swap = st["total_rss"], st["total_cache"], st["total_swap"]
	if _, has := st["total_rss"]; !has {
		u.RSS, u.Cache, u.Swap = st["rss"], st["cache"], st["swap"]
	}
	if !ok {
		return nil, false
	}
	u.MemoryMeasured = []string{"RSS", "Cache", "Swap", "Usage", "Max Usage"}
	if cpuPath != "" {
		cst := readKeyed(filepath.Join(cgroupRoot("cpuacct"), cpuPath, "cpuacct.stat"))
		u.UserSeconds, u.SystemSeconds = float64(cst["user"])/clockTicks, float64(cst["system"])/clockTicks
		u.CPUMeasured = []string{"System Mode", "User Mode", "Percent"}
	}
	return u, true
}

func cgroupV2Usage(p string) (*api.TaskUsage, bool) {
	dir := filepath.Join("/sys/fs/cgroup", p)
	cur, err := readUint(filepath.Join(dir, "memory.current"))
	if err != nil {
		return nil, false
	}
	u := &api.TaskUsage{Usage: cur}
	if v, err := readUint(filepath.Join(dir, "memory.peak")); err == nil {
		u.MaxUsage = v
	}
	st := readKeyed(filepath.Join(dir, "memory.stat"))
	u.RSS, u.Cache = st["anon"], st["file"]
	if v, err := readUint(filepath.Join(dir, "memory.swap.current")); err == nil {
		u.Swap = v
	}
	u.MemoryMeasured = []string{"RSS", "Cache", "Swap", "Usage", "Max Usage"}
	cst := readKeyed(filepath.Join(dir, "cpu.stat"))
	u.UserSeconds, u.SystemSeconds = float64(cst["user_usec"])/1e6, float64(cst["system_usec"])/1e6
	u.CPUMeasured = []string{"System Mode", "User Mode", "Percent"}
	return u, true
}

// processUsage measures a task that runs in the agent's cgroup (raw_exec)
// by its processes: those of its process group (raw_exec starts each task
// in a group of its own), but the agent's own binary (the guard that
// supervises the task).
func processUsage(pgid int) (*api.TaskUsage, error) {
	self, _ := os.Readlink("/proc/self/exe")
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	u := &api.TaskUsage{MemoryMeasured: []string{"RSS"}, CPUMeasured: []string{"System Mode", "User Mode", "Percent"}}
	found := false
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := procStat(pid)
		if err != nil || (st.pgrp != pgid && pid != pgid) {
			continue
		}
		found = true
		if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); exe != "" && exe == self {
			continue
		}
		u.UserSeconds += st.user
		u.SystemSeconds += st.system
		u.RSS += st.rss
	}
	if !found {
		return nil, fmt.Errorf("process %d is gone", pgid)
	}
	u.Usage = u.RSS
	return u, nil
}

type procStatus struct {
	pgrp         int
	user, system float64 // seconds, its waited-for children's included
	rss          uint64  // bytes
}

// procStat reads /proc/<pid>/stat.
func procStat(pid int) (procStatus, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStatus{}, err
	}
	// The command, in parentheses, may hold spaces: fields follow its end.
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return procStatus{}, fmt.Errorf("reading /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 22 {
		return procStatus{}, fmt.Errorf("reading /proc/%d/stat: %d fields", pid, len(f))
	}
	// Numbered as in proc(5): state is 3, pgrp 5, utime 14, stime 15,
	// cutime 16, cstime 17, rss 24 (pages).
	num := func(i int) float64 { v, _ := strconv.ParseFloat(f[i-3], 64); return v }
	return procStatus{pgrp: int(num(5)), user: (num(14) + num(16)) / clockTicks, system: (num(15) + num(17)) / clockTicks,
		rss: uint64(num(24)) * uint64(os.Getpagesize())}, nil
}

// serveHostUsage answers what the node's host has and uses.
func (a *Agent) serveHostUsage(w http.ResponseWriter, _ *http.Request) {
	out := &api.HostUsage{Time: time.Now().UTC()}
	mem := readKeyed("/proc/meminfo") // in kB
	out.MemoryTotal, out.MemoryAvailable, out.MemoryFree = mem["MemTotal"]*1024, mem["MemAvailable"]*1024, mem["MemFree"]*1024
	if b, err := os.ReadFile("/proc/uptime"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			up, _ := strconv.ParseFloat(f[0], 64)
			out.UptimeSeconds = uint64(up)
		}
	}
	out.CPUs = a.hostCPUs()
	var busy float64
	for _, c := range out.CPUs {
		busy += c.User + c.System
	}
	if a.node != nil && len(out.CPUs) > 0 {
		out.CPUMHzUsed = busy / 100 * float64(a.node.Resources.CPU) / float64(len(out.CPUs))
	}
	if d, ok := diskOf(a.cfg.DataDir); ok {
		out.Disks = append(out.Disks, d)
		out.AllocDir = &d
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// hostCPUs reads /proc/stat's cores: percentages since the previous read
// (since boot the first time).
func (a *Agent) hostCPUs() []api.HostCPU {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return nil
	}
	defer f.Close()
	a.usage.mu.Lock()
	defer a.usage.mu.Unlock()
	if a.usage.host == nil {
		a.usage.host = map[string][4]uint64{}
	}
	var out []api.HostCPU
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || !strings.HasPrefix(fields[0], "cpu") || fields[0] == "cpu" {
			continue
		}
		var total uint64
		vals := make([]uint64, 0, len(fields)-1)
		for _, s := range fields[1:] {
			v, _ := strconv.ParseUint(s, 10, 64)
			vals = append(vals, v)
			total += v
		}
		// user nice system idle iowait irq softirq steal …
		user, system, idle := vals[0]+vals[1], vals[2], vals[3]
		if len(vals) > 4 {
			idle += vals[4]
		}
		cur := [4]uint64{user, system, idle, total}
		prev := a.usage.host[fields[0]]
		a.usage.host[fields[0]] = cur
		d := float64(cur[3] - prev[3])
		if d <= 0 || cur[3] < prev[3] {
			continue
		}
		out = append(out, api.HostCPU{Name: fields[0], User: float64(cur[0]-prev[0]) / d * 100,
			System: float64(cur[1]-prev[1]) / d * 100, Idle: float64(cur[2]-prev[2]) / d * 100})
	}
	if len(out) == 0 {
		for i := range runtime.NumCPU() {
			out = append(out, api.HostCPU{Name: fmt.Sprintf("cpu%d", i), Idle: 100})
		}
	}
	return out
}

// diskOf measures the file system dir is on.
func diskOf(dir string) (api.HostDisk, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return api.HostDisk{}, false
	}
	bs := uint64(st.Bsize)
	d := api.HostDisk{Mountpoint: dir, Size: st.Blocks * bs, Available: st.Bavail * bs}
	d.Used = d.Size - st.Bfree*bs
	if d.Size > 0 {
		d.UsedPercent = float64(d.Used) / float64(d.Size) * 100
	}
	if st.Files > 0 {
		d.InodesUsedPercent = float64(st.Files-st.Ffree) / float64(st.Files) * 100
	}
	return d, true
}

func readUint(p string) (uint64, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}

// readKeyed reads "key value" (or "Key: value kB") lines.
func readKeyed(p string) map[string]uint64 {
	out := map[string]uint64{}
	b, err := os.ReadFile(p)
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if v, err := strconv.ParseUint(f[1], 10, 64); err == nil {
			out[strings.TrimSuffix(f[0], ":")] = v
		}
	}
	return out
}
