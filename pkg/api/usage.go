package api

import "time"

// TaskUsage is what a running task uses, as its node measured it: its
// cgroup's when it has one of its own (containerd, docker, exec), its
// main process's otherwise (raw_exec).
type TaskUsage struct {
	RSS            uint64   `json:"rss"`
	Cache          uint64   `json:"cache,omitempty"`
	Swap           uint64   `json:"swap,omitempty"`
	Usage          uint64   `json:"usage,omitempty"`
	MaxUsage       uint64   `json:"max_usage,omitempty"`
	MemoryMeasured []string `json:"memory_measured"`
	// UserSeconds and SystemSeconds are the CPU time used since the
	// task started; Percent is of one core, over the time since the
	// previous measurement (0 the first time).
	UserSeconds   float64   `json:"user_seconds"`
	SystemSeconds float64   `json:"system_seconds"`
	Percent       float64   `json:"percent"`
	CPUMeasured   []string  `json:"cpu_measured"`
	Time          time.Time `json:"time"`
}

// AllocUsage is what an allocation's running tasks use, by task.
type AllocUsage struct {
	Tasks map[string]*TaskUsage `json:"tasks"`
	Time  time.Time             `json:"time"`
}

// HostUsage is what a node's host has and uses.
type HostUsage struct {
	MemoryTotal     uint64    `json:"memory_total"`
	MemoryAvailable uint64    `json:"memory_available"`
	MemoryFree      uint64    `json:"memory_free"`
	CPUs            []HostCPU `json:"cpus"`
	// CPUMHzUsed is the node's compute in use, in the MHz its
	// resources are counted in.
	CPUMHzUsed    float64    `json:"cpu_mhz_used"`
	UptimeSeconds uint64     `json:"uptime_seconds"`
	Disks         []HostDisk `json:"disks"`
	AllocDir      *HostDisk  `json:"alloc_dir,omitempty"`
	Time          time.Time  `json:"time"`
}

// HostCPU is one core's use, in percent, over the time since the previous
// measurement (since boot the first time).
type HostCPU struct {
	Name   string  `json:"name"`
	User   float64 `json:"user"`
	System float64 `json:"system"`
	Idle   float64 `json:"idle"`
}

// HostDisk is a file system's size and use.
type HostDisk struct {
	Device            string  `json:"device"`
	Mountpoint        string  `json:"mountpoint"`
	Size              uint64  `json:"size"`
	Used              uint64  `json:"used"`
	Available         uint64  `json:"available"`
	UsedPercent       float64 `json:"used_percent"`
	InodesUsedPercent float64 `json:"inodes_used_percent"`
}
