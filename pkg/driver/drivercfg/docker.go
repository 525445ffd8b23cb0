package drivercfg

import (
	"fmt"
	"strings"
)

// The docker and podman drivers run Docker-style task configs on
// containerd: Nomad's Docker driver config is what most job files carry,
// so nomadic reads it as written. Each option is supported, accepted with
// a warning (it needs a Docker daemon, or a node that allows it), or
// refused; docs/drivers.md has the table.

// needsDaemon is the warning of options that only a Docker daemon has.
func needsDaemon(what string) func(any) string {
	return func(any) string { return what + " needs a Docker daemon: the option is ignored on containerd" }
}

func ignored(why string) func(any) string { return func(any) string { return why } }

// privilegedNote is where the node's permission comes from.
const privilegedNote = "runs only on nodes whose agent was started with -docker-allow-privileged"

var dockerFields = []Field{
	{Name: "image", Type: NonEmptyString, Required: true},
	{Name: "command", Type: String},
	{Name: "args", Type: Args},
	{Name: "entrypoint", Type: StringOrStrings},
	{Name: "work_dir", Type: String},
	{Name: "hostname", Type: String},
	{Name: "labels", Type: StringMap},
	{Name: "ports", Type: Strings},
	{Name: "port_map", Type: StringMap},
	{Name: "volumes", Type: Strings},
	{Name: "mount", Type: Objects, Warn: warnMounts},
	{Name: "mounts", Type: Objects, Warn: warnMounts},
	{Name: "network_mode", Type: String, Warn: warnNetworkMode},
	{Name: "dns_servers", Type: Strings},
	{Name: "dns_search_domains", Type: Strings},
	{Name: "dns_options", Type: Strings},
	{Name: "extra_hosts", Type: Strings},
	{Name: "cap_add", Type: Strings},
	{Name: "cap_drop", Type: Strings},
	{Name: "privileged", Type: Bool, Warn: func(v any) string {
		if b, _ := Bool.Decode(v); b == true {
			return "a privileged container " + privilegedNote
		}
		return ""
	}},
	{Name: "shm_size", Type: Bytes},
	{Name: "ulimit", Type: StringMap},
	{Name: "sysctl", Type: StringMap},
	{Name: "init", Type: Bool, Warn: func(v any) string {
		if b, _ := Bool.Decode(v); b == true {
			return "containerd has no init process to add: the command runs as PID 1"
		}
		return ""
	}},
	{Name: "force_pull", Type: Bool},
	{Name: "image_pull_timeout", Type: Duration},
	{Name: "load", Type: String},
	{Name: "image_archive", Type: String},
	{Name: "auth", Type: Objects},
	{Name: "auth_soft_fail", Type: Bool},
	{Name: "memory_hard_limit", Type: Number},
	{Name: "cpu_hard_limit", Type: Bool},
	{Name: "cpu_cfs_period", Type: Number},
	{Name: "readonly_rootfs", Type: Bool},
	{Name: "security_opt", Type: Strings, Warn: warnSecurityOpt},
	{Name: "pid_mode", Type: String, Warn: warnNamespaceMode("pid_mode", true)},
	{Name: "ipc_mode", Type: String, Warn: warnNamespaceMode("ipc_mode", false)},
	{Name: "uts_mode", Type: String, Warn: warnNamespaceMode("uts_mode", false)},
	{Name: "pids_limit", Type: PositiveNumber},
	{Name: "oom_score_adj", Type: WholeNumber(-1000, 1000)},
	{Name: "group_add", Type: Strings},
	{Name: "devices", Type: Devices},
	{Name: "logging", Type: Objects, Warn: needsDaemon("a logging driver (the task's output goes to nomadic's log files: nctl logs)")},
	{Name: "tty", Type: Bool, Warn: ignored("tty is ignored: tasks run without a terminal")},
	{Name: "interactive", Type: Bool, Warn: ignored("interactive is ignored: tasks run without standard input")},
	{Name: "userns_mode", Type: String, Warn: needsDaemon("userns_mode")},
	{Name: "runtime", Type: String, Warn: ignored("runtime is ignored: containers run with containerd's runc")},
	{Name: "isolation", Type: String, Warn: ignored("isolation is a Windows option and is ignored")},
	{Name: "storage_opt", Type: StringMap, Warn: needsDaemon("storage_opt")},
	{Name: "mac_address", Type: String, Warn: needsDaemon("mac_address")},
	{Name: "ipv4_address", Type: String, Warn: needsDaemon("ipv4_address")},
	{Name: "ipv6_address", Type: String, Warn: needsDaemon("ipv6_address")},
	{Name: "advertise_ipv6_address", Type: Bool, Warn: needsDaemon("advertise_ipv6_address")},
	{Name: "network_aliases", Type: Strings, Warn: needsDaemon("network_aliases")},
	{Name: "volume_driver", Type: String, Warn: needsDaemon("a volume driver")},
	{Name: "cpuset_cpus", Type: String, Warn: ignored("cpuset_cpus is ignored: use resources.cores")},
	{Name: "healthchecks", Type: Objects},
	{Name: "cgroupns", Type: String, Warn: needsDaemon("cgroupns")},
	{Name: "gpus", Type: Any, Warn: ignored("gpus is ignored: nomadic schedules no devices")},
	{Name: "container_exists_attempts", Type: Number},
}

// podmanFields are the options of Nomad's podman driver beyond the
// Docker driver's.
var podmanFields = []Field{
	{Name: "working_dir", Type: String},
	{Name: "tmpfs", Type: Strings},
	{Name: "memory_reservation", Type: String, Warn: ignored("memory_reservation is ignored: memory is the reservation")},
	{Name: "memory_swap", Type: String, Warn: ignored("memory_swap is ignored: tasks get no swap")},
	{Name: "memory_swappiness", Type: Number, Warn: ignored("memory_swappiness is ignored")},
	{Name: "apparmor_profile", Type: String},
	{Name: "selinux_opts", Type: Strings, Warn: ignored("selinux_opts is ignored")},
	{Name: "socket", Type: String, Warn: ignored("socket is ignored: containers run on the node's containerd")},
	{Name: "userns", Type: String, Warn: ignored("userns is ignored")},
	{Name: "init_path", Type: String, Warn: ignored("init_path is ignored")},
	{Name: "extra_hosts", Type: Strings},
}

// Devices is the docker driver's list of device blocks ({host_path,
// container_path, cgroup_permissions}) or the podman driver's list of
// "host[:container[:permissions]]" strings, read as objects.
var Devices = Type{Desc: "a list of devices", Decode: func(v any) (any, bool) {
	items, ok := v.([]any)
	if !ok {
		return Objects.Decode(v)
	}
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		switch d := it.(type) {
		case map[string]any:
			out = append(out, d)
		case string:
			parts := strings.SplitN(d, ":", 3)
			m := map[string]any{"host_path": parts[0]}
			if len(parts) > 1 {
				m["container_path"] = parts[1]
			}
			if len(parts) > 2 {
				m["cgroup_permissions"] = parts[2]
			}
			out = append(out, m)
		default:
			return nil, false
		}
	}
	return out, true
}}

// Docker is the docker driver's config, run by the containerd driver.
var Docker = &Schema{Driver: "docker", Fields: dockerFields}

// Podman is the podman driver's config: the Docker options and podman's
// own, run the same way.
var Podman = &Schema{Driver: "podman", Fields: mergeFields(dockerFields, podmanFields)}

func mergeFields(a, b []Field) []Field {
	out := append([]Field{}, a...)
	seen := map[string]bool{}
	for _, f := range a {
		seen[f.Name] = true
	}
	for _, f := range b {
		if !seen[f.Name] {
			out = append(out, f)
		}
	}
	return out
}

func warnNetworkMode(v any) string {
	switch s, _ := v.(string); s {
	case "", "bridge", "host", "none", "default":
		return ""
	default:
		if strings.HasPrefix(s, "container:") {
			return fmt.Sprintf("network_mode %q needs a Docker daemon: the task joins its allocation's network instead", s)
		}
		return fmt.Sprintf("network_mode %q names a Docker network, which containerd does not have: the task joins its allocation's network instead", s)
	}
}

func warnNamespaceMode(option string, needsPermission bool) func(any) string {
	return func(v any) string {
		switch s, _ := v.(string); s {
		case "", "private":
			return ""
		case "host":
			if needsPermission {
				return fmt.Sprintf("%s \"host\" %s", option, privilegedNote)
			}
			return ""
		default:
			return fmt.Sprintf("%s %q needs a Docker daemon: the task gets a namespace of its own", option, s)
		}
	}
}

// SecurityOptSupported reports whether containerd honours a security_opt
// entry.
func SecurityOptSupported(opt string) bool {
	switch {
	case opt == "no-new-privileges", opt == "no-new-privileges:true", opt == "no-new-privileges=true",
		opt == "seccomp=unconfined", opt == "seccomp:unconfined",
		opt == "apparmor=unconfined", opt == "apparmor:unconfined",
		opt == "label=disable", opt == "label:disable":
		return true
	}
	return strings.HasPrefix(opt, "apparmor=") || strings.HasPrefix(opt, "apparmor:")
}

func warnSecurityOpt(v any) string {
	opts, _ := list(v, false)
	var bad []string
	for _, o := range opts.([]string) {
		if !SecurityOptSupported(o) {
			bad = append(bad, fmt.Sprintf("%q", o))
		}
	}
	if len(bad) == 0 {
		return ""
	}
	return "containerd cannot honour " + strings.Join(bad, ", ") + ": ignored (supported: no-new-privileges, seccomp=unconfined, apparmor=<profile>, label=disable)"
}

func warnMounts(v any) string {
	ms, ok := Objects.Decode(v)
	if !ok {
		return ""
	}
	for _, m := range ms.([]map[string]any) {
		switch t, _ := m["type"].(string); t {
		case "bind", "tmpfs":
		case "":
			return `a mount without a type is a Docker named volume (the docker driver's default type), which containerd does not have: say type = "bind" to bind a path, or use a host volume`
		case "volume":
			return "mounts of type \"volume\" need Docker named volumes, which containerd does not have: use a bind mount or a host volume"
		default:
			return fmt.Sprintf("mounts of type %q are not supported: use bind or tmpfs", t)
		}
	}
	return ""
}
