// Package dockerspec translates a task config written for Nomad's docker
// (or podman) driver into a declarative description of a containerd
// container: the image to pull or import, what to run, mounts, namespaces,
// limits and security settings. The translation is pure (it touches no
// file and no daemon), so that every option can be table-tested; the
// containerd driver applies the result.
package dockerspec

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/nomadic-project/nomadic/pkg/driver/drivercfg"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultPullTimeout is how long an image pull may take when the task
// does not say (image_pull_timeout), as in Nomad.
const DefaultPullTimeout = 5 * time.Minute

// Task is what the translation needs of the task besides its config.
type Task struct {
	// Dir is the task's directory on the host; relative host paths are
	// inside it. AllocDir is the allocation's shared directory (its
	// parent holds every task's directory).
	Dir      string
	AllocDir string
	// Env is the task's environment as the container sees it, for
	// ${NAME} in the config.
	Env []string
	// CPU is the task's MHz; MHzPerCore the node's, for cpu_hard_limit.
	CPU        int
	MHzPerCore int
}

// Options are what the node allows.
type Options struct {
	// AllowPrivileged lets tasks run privileged containers and share the
	// host's pid namespace.
	AllowPrivileged bool
	// DenyHostPaths refuses volumes and bind mounts of host paths outside
	// the allocation directory.
	DenyHostPaths bool
}

// Auth is a registry credential.
type Auth struct {
	Username string
	Password string
	Server   string
}

// Device is a host device made available in the container.
type Device struct {
	HostPath      string
	ContainerPath string
	Permissions   string
}

// Network modes of a container.
const (
	// NetworkAlloc joins the allocation's network: its namespace in
	// bridge mode, the host's otherwise.
	NetworkAlloc = "alloc"
	NetworkHost  = "host"
	NetworkNone  = "none"
)

// Spec is a container to create.
type Spec struct {
	Image        string
	Archive      string
	ForcePull    bool
	PullTimeout  time.Duration
	Auth         *Auth
	AuthSoftFail bool

	// Entrypoint and Cmd replace the image's when not nil; an entrypoint
	// given without a command drops the image's CMD, as in Docker.
	Entrypoint []string
	Cmd        []string
	WorkDir    string
	Hostname   string
	Labels     map[string]string
	Network    string

	Mounts []specs.Mount
	// HostDirs are host directories to create before mounting them, as
	// Docker creates missing bind sources.
	HostDirs []string
	// ResolvConf and Hosts, when set, are written to files in the task
	// directory and mounted over /etc/resolv.conf and /etc/hosts.
	ResolvConf string
	Hosts      []string

	CapAdd     []string
	CapDrop    []string
	Privileged bool
	PidHost    bool
	IpcHost    bool
	UtsHost    bool

	Rlimits             []specs.POSIXRlimit
	Sysctl              map[string]string
	MemoryLimitMB       int
	MemoryReservationMB int
	CPUQuota            int64
	CPUPeriod           uint64
	ShmSize             int64
	PidsLimit           int64
	OOMScoreAdj         *int
	GroupAdd            []uint32
	Devices             []Device

	ReadonlyRootfs  bool
	NoNewPrivileges bool
	ApparmorProfile string
}

// NormalizeImage names an image the way Docker does: "redis:7" is
// docker.io/library/redis:7, "user/app" is docker.io/user/app:latest.
func NormalizeImage(image string) (string, error) {
	named, err := reference.ParseDockerRef(image)
	if err != nil {
		return "", fmt.Errorf("config.image %q is not an image reference: %w", image, err)
	}
	return named.String(), nil
}

// Translate reads a docker or podman task config.
func Translate(schema *drivercfg.Schema, config map[string]any, task Task, opts Options) (*Spec, error) {
	if config == nil {
		config = map[string]any{}
	}
	v, err := schema.Decode(interpolate(config, envMap(task.Env)).(map[string]any))
	if err != nil {
		return nil, err
	}
	t := &translator{v: v, task: task, opts: opts, s: &Spec{Network: NetworkAlloc, PullTimeout: DefaultPullTimeout}}
	for _, step := range []func() error{t.image, t.process, t.network, t.volumes, t.mounts, t.security, t.limits} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return t.s, nil
}

type translator struct {
	v    drivercfg.Values
	task Task
	opts Options
	s    *Spec
}

func (t *translator) image() error {
	img, err := NormalizeImage(t.v.String("image"))
	if err != nil {
		return err
	}
	t.s.Image = img
	for _, opt := range []string{"load", "image_archive"} {
		if a := t.v.String(opt); a != "" {
			p, err := t.hostPath(a, "config."+opt)
			if err != nil {
				return err
			}
			t.s.Archive = p
		}
	}
	t.s.ForcePull = t.v.Bool("force_pull")
	if d := t.v.Duration("image_pull_timeout"); d > 0 {
		t.s.PullTimeout = d
	}
	if auths := t.v.Objects("auth"); len(auths) > 0 {
		a := auths[0]
		t.s.Auth = &Auth{Username: str(a["username"]), Password: str(a["password"]), Server: str(a["server_address"])}
		if t.s.Auth.Username == "" && t.s.Auth.Password == "" {
			t.s.Auth = nil // credentials from the node's configuration, which containerd does not have
		}
	}
	t.s.AuthSoftFail = t.v.Bool("auth_soft_fail")
	return nil
}

func (t *translator) process() error {
	if ep := t.v.Strings("entrypoint"); len(ep) > 0 {
		t.s.Entrypoint = ep
	}
	if cmd := t.v.String("command"); cmd != "" {
		t.s.Cmd = append([]string{cmd}, t.v.Strings("args")...)
	} else if args := t.v.Strings("args"); len(args) > 0 {
		t.s.Cmd = args
	}
	t.s.WorkDir = t.v.String("work_dir")
	if wd := t.v.String("working_dir"); wd != "" {
		t.s.WorkDir = wd
	}
	if t.s.WorkDir != "" && !filepath.IsAbs(t.s.WorkDir) {
		return fmt.Errorf("config.work_dir %q must be an absolute path in the container", t.s.WorkDir)
	}
	t.s.Hostname = t.v.String("hostname")
	t.s.Labels = t.v.Map("labels")
	return nil
}

func (t *translator) network() error {
	switch m := t.v.String("network_mode"); m {
	case "host":
		t.s.Network = NetworkHost
	case "none":
		t.s.Network = NetworkNone
	}
	servers, search, options := t.v.Strings("dns_servers"), t.v.Strings("dns_search_domains"), t.v.Strings("dns_options")
	if len(servers)+len(search)+len(options) > 0 {
		var b strings.Builder
		for _, s := range servers {
			fmt.Fprintf(&b, "nameserver %s\n", s)
		}
		if len(search) > 0 {
			fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
		}
		if len(options) > 0 {
			fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
		}
		t.s.ResolvConf = b.String()
	}
	for _, h := range t.v.Strings("extra_hosts") {
		name, ip, ok := strings.Cut(h, ":")
		if !ok || name == "" || ip == "" {
			return fmt.Errorf("config.extra_hosts entry %q is not host:ip", h)
		}
		if ip == "host-gateway" {
			ip = "127.0.0.1"
		}
		t.s.Hosts = append(t.s.Hosts, ip+"\t"+name)
	}
	return nil
}

// hostPath resolves a host path of the config: relative paths are inside
// the task's directory and must stay inside the allocation's.
func (t *translator) hostPath(p, what string) (string, error) {
	if filepath.IsAbs(p) {
		if t.opts.DenyHostPaths {
			return "", fmt.Errorf("%s: host path %s is refused on this node: use a path relative to the task directory, or a host volume", what, p)
		}
		return filepath.Clean(p), nil
	}
	full := filepath.Join(t.task.Dir, p)
	allocRoot := filepath.Dir(filepath.Clean(t.task.AllocDir))
	if t.task.AllocDir != "" && full != allocRoot && !strings.HasPrefix(full, allocRoot+string(filepath.Separator)) {
		return "", fmt.Errorf("%s: %s leaves the allocation directory", what, p)
	}
	return full, nil
}

func (t *translator) bind(src, dst string, readOnly bool, propagation, what string) error {
	host, err := t.hostPath(src, what)
	if err != nil {
		return err
	}
	if !filepath.IsAbs(dst) {
		return fmt.Errorf("%s: container path %q must be absolute", what, dst)
	}
	opts := []string{"rbind"}
	if readOnly {
		opts = append(opts, "ro")
	} else {
		opts = append(opts, "rw")
	}
	if propagation != "" {
		opts = append(opts, propagation)
	}
	t.s.HostDirs = append(t.s.HostDirs, host)
	t.s.Mounts = append(t.s.Mounts, specs.Mount{Type: "bind", Source: host, Destination: dst, Options: opts})
	return nil
}

var propagations = map[string]bool{"private": true, "rprivate": true, "shared": true, "rshared": true, "slave": true, "rslave": true}

// volumes reads host:container[:options] entries.
func (t *translator) volumes() error {
	for _, vol := range t.v.Strings("volumes") {
		parts := strings.Split(vol, ":")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
			return fmt.Errorf("config.volumes entry %q is not host_path:container_path[:ro]", vol)
		}
		ro, prop := false, ""
		if len(parts) == 3 {
			for _, o := range strings.Split(parts[2], ",") {
				switch {
				case o == "ro":
					ro = true
				case o == "rw", o == "z", o == "Z", o == "":
				case propagations[o]:
					prop = o
				default:
					return fmt.Errorf("config.volumes entry %q: option %q is not ro, rw, z, Z or a propagation mode", vol, o)
				}
			}
		}
		if !strings.HasPrefix(parts[0], "/") && !strings.HasPrefix(parts[0], ".") && !strings.Contains(parts[0], "/") && t.v.String("volume_driver") != "" {
			return fmt.Errorf("config.volumes entry %q names a Docker volume, which containerd does not have", vol)
		}
		if err := t.bind(parts[0], parts[1], ro, prop, "config.volumes"); err != nil {
			return err
		}
	}
	return nil
}

// volumeMount says why a mount of type "volume" (Nomad's default type)
// cannot be made.
func volumeMount(typ string) string {
	if typ == "" {
		return `config.mount without a type is a Docker named volume (the docker driver's default type), which containerd does not have: say type = "bind" to bind a path, or use a host volume`
	}
	return `config.mount of type "volume" needs Docker named volumes, which containerd does not have: use a bind mount or a host volume`
}

func (t *translator) mounts() error {
	all := append(append([]map[string]any{}, t.v.Objects("mount")...), t.v.Objects("mounts")...)
	for _, m := range all {
		typ := str(m["type"])
		target := str(m["target"])
		if target == "" {
			target = str(m["destination"])
		}
		ro := truthy(m["readonly"]) || truthy(m["read_only"])
		switch typ {
		case "bind":
			prop := str(first(m["bind_options"])["propagation"])
			if prop != "" && !propagations[prop] {
				return fmt.Errorf("config.mount: bind propagation %q is not one of private, rprivate, shared, rshared, slave, rslave", prop)
			}
			if err := t.bind(str(m["source"]), target, ro, prop, "config.mount"); err != nil {
				return err
			}
		case "tmpfs":
			if !filepath.IsAbs(target) {
				return fmt.Errorf("config.mount: tmpfs target %q must be an absolute path", target)
			}
			opts := []string{"nosuid", "nodev"}
			to := first(m["tmpfs_options"])
			if size, ok := to["size"].(float64); ok && size > 0 {
				opts = append(opts, "size="+strconv.FormatInt(int64(size), 10))
			}
			if mode, ok := to["mode"].(float64); ok && mode > 0 {
				opts = append(opts, "mode="+strconv.FormatInt(int64(mode), 8))
			}
			if ro {
				opts = append(opts, "ro")
			}
			t.s.Mounts = append(t.s.Mounts, specs.Mount{Type: "tmpfs", Source: "tmpfs", Destination: target, Options: opts})
		case "volume", "":
			return errors.New(volumeMount(typ))
		default:
			return fmt.Errorf("config.mount type %q is not supported: use bind or tmpfs", typ)
		}
	}
	for _, tm := range t.v.Strings("tmpfs") {
		target, opts, _ := strings.Cut(tm, ":")
		o := []string{"nosuid", "nodev"}
		if opts != "" {
			o = append(o, strings.Split(opts, ",")...)
		}
		t.s.Mounts = append(t.s.Mounts, specs.Mount{Type: "tmpfs", Source: "tmpfs", Destination: target, Options: o})
	}
	if size, ok := t.v["shm_size"].(int64); ok && size > 0 {
		t.s.ShmSize = size
	}
	for _, d := range t.v.Objects("devices") {
		dev := Device{HostPath: str(d["host_path"]), ContainerPath: str(d["container_path"]), Permissions: str(d["cgroup_permissions"])}
		if dev.HostPath == "" {
			return fmt.Errorf("config.devices entry needs a host_path")
		}
		if dev.ContainerPath == "" {
			dev.ContainerPath = dev.HostPath
		}
		if dev.Permissions == "" {
			dev.Permissions = "rwm"
		}
		t.s.Devices = append(t.s.Devices, dev)
	}
	return nil
}

// Capability names a capability the way the runtime spec does
// ("net_admin" is CAP_NET_ADMIN); "ALL" stays.
func Capability(c string) string {
	c = strings.ToUpper(strings.TrimSpace(c))
	if c == "ALL" || strings.HasPrefix(c, "CAP_") {
		return c
	}
	return "CAP_" + c
}

func (t *translator) security() error {
	for _, c := range t.v.Strings("cap_add") {
		t.s.CapAdd = append(t.s.CapAdd, Capability(c))
	}
	for _, c := range t.v.Strings("cap_drop") {
		t.s.CapDrop = append(t.s.CapDrop, Capability(c))
	}
	if t.v.Bool("privileged") {
		if !t.opts.AllowPrivileged {
			return fmt.Errorf("config.privileged: privileged containers are not allowed on this node (its agent allows them with -docker-allow-privileged)")
		}
		t.s.Privileged = true
	}
	switch t.v.String("pid_mode") {
	case "host":
		if !t.opts.AllowPrivileged {
			return fmt.Errorf("config.pid_mode \"host\" is not allowed on this node (its agent allows it with -docker-allow-privileged)")
		}
		t.s.PidHost = true
	}
	t.s.IpcHost = t.v.String("ipc_mode") == "host"
	t.s.UtsHost = t.v.String("uts_mode") == "host"
	t.s.ReadonlyRootfs = t.v.Bool("readonly_rootfs")
	for _, o := range t.v.Strings("security_opt") {
		key, val, _ := strings.Cut(strings.Replace(o, ":", "=", 1), "=")
		switch key {
		case "no-new-privileges":
			t.s.NoNewPrivileges = val == "" || val == "true"
		case "apparmor":
			if val != "unconfined" {
				t.s.ApparmorProfile = val
			}
		}
	}
	if ap := t.v.String("apparmor_profile"); ap != "" && ap != "unconfined" {
		t.s.ApparmorProfile = ap
	}
	for _, g := range t.v.Strings("group_add") {
		id, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return fmt.Errorf("config.group_add %q: only numeric group ids are supported", g)
		}
		t.s.GroupAdd = append(t.s.GroupAdd, uint32(id))
	}
	return nil
}

var rlimits = map[string]bool{"as": true, "core": true, "cpu": true, "data": true, "fsize": true, "locks": true, "memlock": true,
	"msgqueue": true, "nice": true, "nofile": true, "nproc": true, "rss": true, "rtprio": true, "rttime": true, "sigpending": true, "stack": true}

func (t *translator) limits() error {
	ul := t.v.Map("ulimit")
	names := make([]string, 0, len(ul))
	for n := range ul {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !rlimits[n] {
			return fmt.Errorf("config.ulimit %q is not a resource limit (nofile, nproc, memlock, core, stack, ...)", n)
		}
		soft, hard, hasHard := strings.Cut(ul[n], ":")
		s, err1 := strconv.ParseUint(soft, 10, 64)
		h := s
		var err2 error
		if hasHard {
			h, err2 = strconv.ParseUint(hard, 10, 64)
		}
		if err1 != nil || err2 != nil || h < s {
			return fmt.Errorf("config.ulimit %s = %q is not soft[:hard] with hard at least soft", n, ul[n])
		}
		t.s.Rlimits = append(t.s.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(n), Soft: s, Hard: h})
	}
	t.s.Sysctl = t.v.Map("sysctl")
	if m := t.v.Number("memory_hard_limit"); m > 0 {
		t.s.MemoryLimitMB = int(m)
	}
	if t.v.Bool("cpu_hard_limit") && t.task.CPU > 0 {
		period := uint64(100000)
		if p := t.v.Number("cpu_cfs_period"); p > 0 {
			period = uint64(p)
		}
		mhz := t.task.MHzPerCore
		if mhz <= 0 {
			mhz = 1000
		}
		t.s.CPUPeriod = period
		t.s.CPUQuota = max(int64(float64(t.task.CPU)/float64(mhz)*float64(period)), 1000)
	}
	t.s.PidsLimit = int64(t.v.Number("pids_limit"))
	if t.v.Given("oom_score_adj") {
		n := t.v.Int("oom_score_adj")
		t.s.OOMScoreAdj = &n
	}
	return nil
}

func str(v any) string { s, _ := v.(string); return s }

func truthy(v any) bool {
	b, ok := drivercfg.Bool.Decode(v)
	return ok && b.(bool)
}

// first reads a nested block (a list of one object) or an object.
func first(v any) map[string]any {
	switch x := v.(type) {
	case map[string]any:
		return x
	case []any:
		if len(x) > 0 {
			m, _ := x[0].(map[string]any)
			return m
		}
	}
	return nil
}

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// interpolate replaces ${NAME} in every string of a config with the
// task's environment variable NAME; other text is kept.
func interpolate(v any, env map[string]string) any {
	switch x := v.(type) {
	case string:
		return expand(x, env)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = interpolate(e, env)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = interpolate(e, env)
		}
		return out
	}
	return v
}

func expand(s string, env map[string]string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		name := strings.TrimSpace(s[i+2 : i+j])
		b.WriteString(s[:i])
		if val, ok := env[name]; ok {
			b.WriteString(val)
		} else {
			b.WriteString(s[i : i+j+1])
		}
		s = s[i+j+1:]
	}
}
