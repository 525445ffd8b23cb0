package nodeagent

import (
	"bufio"
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// fingerprint describes the node: its capacity, attributes and drivers.
func (a *Agent) fingerprint(ctx context.Context) *api.Node {
	hostname, _ := os.Hostname()
	name := a.cfg.Name
	if name == "" {
		name = hostname
	}
	cores := runtime.NumCPU()
	mhz := cpuMHz()
	memMB := memTotalMB()
	attrs := map[string]string{
		"kernel.name":     runtime.GOOS,
		"os.name":         runtime.GOOS,
		"cpu.arch":        runtime.GOARCH,
		"cpu.numcores":    strconv.Itoa(cores),
		"cpu.frequency":   strconv.Itoa(mhz),
		"memory.totalmb":  strconv.Itoa(memMB),
		"unique.hostname": hostname,
	}
	if rel, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		attrs["kernel.version"] = strings.TrimSpace(string(rel))
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		attrs["os.cgroups.version"] = "2"
	} else {
		attrs["os.cgroups.version"] = "1"
	}
	attrs["cpu.totalcompute"] = strconv.Itoa(cores * mhz)
	attrs["unique.network.ip-address"] = nodeAddress
	drivers := map[string]*api.DriverInfo{}
	for n, d := range a.drivers {
		drivers[n] = d.Fingerprint(ctx)
		attrs["driver."+n] = strconv.FormatBool(drivers[n].Healthy)
		// Drivers may say more about themselves, as Nomad's docker
		// driver does (driver.docker.privileged.enabled).
		if da, ok := d.(interface{ Attributes() map[string]string }); ok && drivers[n].Healthy {
			for k, v := range da.Attributes() {
				attrs[k] = v
			}
		}
	}
	dc := a.cfg.Datacenter
	if dc == "" {
		dc = "dc1"
	}
	pool := a.cfg.NodePool
	if pool == "" {
		pool = "default"
	}
	for k, v := range a.cfg.Attributes {
		attrs[k] = v
	}
	reg := time.Now().UTC().Truncate(time.Second)
	if a.node != nil {
		reg = a.node.RegisterTime
	}
	res := api.Resources{
		CPU:      max(cores*mhz-a.cfg.Reserved.CPU, 0),
		MemoryMB: max(memMB-a.cfg.Reserved.MemoryMB, 0),
		DiskMB:   max(diskMB(a.cfg.DataDir)-a.cfg.Reserved.DiskMB, 0),
	}
	if a.cfg.Resources != nil {
		res = *a.cfg.Resources
	}
	return &api.Node{
		ID:           a.cfg.NodeID,
		Name:         name,
		Datacenter:   dc,
		NodePool:     pool,
		Attributes:   attrs,
		Meta:         a.cfg.Meta,
		Drivers:      drivers,
		NodeClass:    a.cfg.NodeClass,
		HTTPAddr:     a.cfg.HTTPAddr,
		HTTPTLS:      a.cfg.HTTPTLS,
		Address:      nodeAddress,
		Resources:    res,
		Eligible:     true,
		RegisterTime: reg,
	}
}

// nodeAddress is the address allocated ports are reached on.
const nodeAddress = "127.0.0.1"

// cpuMHz reads the processor's clock from /proc/cpuinfo, falling back to
// 1000 MHz per core where the kernel does not say (as in some VMs).
func cpuMHz() int {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return 1000
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "cpu MHz" {
			if x, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && x > 0 {
				return int(x)
			}
		}
	}
	return 1000
}

func memTotalMB() int {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 1024
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			if kb, err := strconv.Atoi(fields[1]); err == nil {
				return kb / 1024
			}
		}
	}
	return 1024
}

// diskMB is the size of the file system holding dir, in MiB: a capacity
// that does not move with its use, so the node record stays unchanged.
func diskMB(dir string) int {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0
	}
	return int(st.Blocks * uint64(st.Bsize) >> 20)
}
