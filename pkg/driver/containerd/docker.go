package containerd

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/oci"
	"github.com/containerd/containerd/pkg/cap"
	"github.com/containerd/containerd/remotes"
	"github.com/containerd/containerd/remotes/docker"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/driver"
	"github.com/nomadic-project/nomadic/pkg/driver/containerd/dockerspec"
	"github.com/nomadic-project/nomadic/pkg/driver/drivercfg"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Names of the Docker-style drivers.
const (
	DockerName = "docker"
	PodmanName = "podman"
)

// DockerDriver runs tasks written for Nomad's docker driver (or, with As
// set to "podman", its podman driver) on containerd: the task config is
// translated by package dockerspec and run like a containerd task. Options
// that need a Docker daemon are accepted with a warning at submission
// (api.Job.Warnings) and ignored here.
type DockerDriver struct {
	*Driver
	// As is the name jobs use: "docker" when empty, or "podman".
	As string
	// AllowPrivileged lets tasks run privileged containers and share the
	// host's pid namespace.
	AllowPrivileged bool
	// DenyHostPaths refuses volumes and bind mounts of host paths outside
	// the allocation directory.
	DenyHostPaths bool
}

// Name returns "docker" or "podman".
func (d *DockerDriver) Name() string {
	if d.As != "" {
		return d.As
	}
	return DockerName
}

func (d *DockerDriver) schema() *drivercfg.Schema {
	if d.As == PodmanName {
		return drivercfg.Podman
	}
	return drivercfg.Docker
}

// Fingerprint reports the driver healthy when containerd is: the node
// runs Docker jobs whenever its containerd answers.
func (d *DockerDriver) Fingerprint(ctx context.Context) *api.DriverInfo {
	info := d.Driver.Fingerprint(ctx)
	if !info.Healthy && info.Reason != "" {
		info.Reason = "the " + d.Name() + " driver runs on containerd: " + info.Reason
	}
	return info
}

// Attributes are the node attributes Nomad's docker driver sets, for
// jobs that constrain on them.
func (d *DockerDriver) Attributes() map[string]string {
	n := "driver." + d.Name()
	return map[string]string{
		n + ".privileged.enabled": strconv.FormatBool(d.AllowPrivileged),
		n + ".volumes.enabled":    strconv.FormatBool(!d.DenyHostPaths),
		n + ".runtimes":           "runc",
	}
}

// Validate checks a docker or podman configuration.
func (d *DockerDriver) Validate(c map[string]any) error { return d.schema().Validate(c) }

// Start translates the config, gets the image and runs the container.
func (d *DockerDriver) Start(ctx context.Context, tc *driver.TaskConfig) (driver.Handle, error) {
	spec, err := dockerspec.Translate(d.schema(), tc.Config, dockerspec.Task{
		Dir: tc.Dir, AllocDir: tc.AllocDir, Env: containerEnv(tc.Env), CPU: tc.Resources.CPU, MHzPerCore: mhzPerCore(),
	}, dockerspec.Options{AllowPrivileged: d.AllowPrivileged, DenyHostPaths: d.DenyHostPaths})
	if err != nil {
		return nil, err
	}
	for _, dir := range spec.HostDirs {
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("creating bind source %s: %w", dir, err)
			}
		}
	}
	post, err := hostFiles(tc, spec)
	if err != nil {
		return nil, err
	}
	c, err := d.connect()
	if err != nil {
		return nil, err
	}
	ctx = d.ns(ctx)
	req := imageRequest{ref: spec.Image, archive: spec.Archive, force: spec.ForcePull, timeout: spec.PullTimeout, softFail: spec.AuthSoftFail}
	if spec.Auth != nil {
		req.resolver = authResolver(spec.Auth)
	}
	image, err := d.image(ctx, c, req)
	if err != nil {
		return nil, err
	}
	var ic ocispec.Image
	if ic, err = image.Spec(ctx); err != nil {
		return nil, fmt.Errorf("reading the config of image %s: %w", spec.Image, err)
	}
	opts := []oci.SpecOpts{oci.WithImageConfig(image)}
	if args := processArgs(ic.Config.Entrypoint, ic.Config.Cmd, spec); len(args) > 0 {
		opts = append(opts, oci.WithProcessArgs(args...))
	} else {
		return nil, fmt.Errorf("image %s has no entrypoint or command, and the task gives none", spec.Image)
	}
	post = append(post, specOpts(spec, tc)...)
	return d.run(ctx, c, tc, runOptions{opts: opts, post: post, network: spec.Network, labels: spec.Labels},
		containerd.WithImage(image), containerd.WithNewSnapshot(containerID(tc.AllocID, tc.TaskName)+"-snapshot", image))
}

// processArgs is what the container runs, as Docker decides it: the
// entrypoint (the task's or the image's) followed by the command (the
// task's, or the image's unless the task replaced the entrypoint).
func processArgs(imageEntrypoint, imageCmd []string, s *dockerspec.Spec) []string {
	entry, cmd := imageEntrypoint, imageCmd
	if s.Entrypoint != nil {
		entry, cmd = s.Entrypoint, nil
	}
	if s.Cmd != nil {
		cmd = s.Cmd
	}
	return append(append([]string{}, entry...), cmd...)
}

// specOpts turns a translated spec into the options applied after the
// common ones.
func specOpts(s *dockerspec.Spec, tc *driver.TaskConfig) []oci.SpecOpts {
	var opts []oci.SpecOpts
	if s.WorkDir != "" {
		opts = append(opts, oci.WithProcessCwd(s.WorkDir))
	}
	if s.Hostname != "" {
		opts = append(opts, oci.WithHostname(s.Hostname))
	}
	if s.MemoryLimitMB > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(s.MemoryLimitMB)<<20), withMemoryReservation(uint64(tc.Resources.MemoryMB)<<20))
	}
	if s.CPUQuota > 0 {
		opts = append(opts, oci.WithCPUCFS(s.CPUQuota, s.CPUPeriod))
	}
	if s.PidsLimit > 0 {
		opts = append(opts, oci.WithPidsLimit(s.PidsLimit))
	}
	if s.ShmSize > 0 {
		opts = append(opts, oci.WithMounts([]specs.Mount{{Type: "tmpfs", Source: "shm", Destination: "/dev/shm",
			Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=" + strconv.FormatInt(s.ShmSize, 10)}}}))
	}
	if len(s.Mounts) > 0 {
		opts = append(opts, oci.WithMounts(s.Mounts))
	}
	for _, dev := range s.Devices {
		opts = append(opts, oci.WithDevices(dev.HostPath, dev.ContainerPath, dev.Permissions))
	}
	if s.Privileged {
		opts = append(opts, oci.WithCapabilities(allCapabilities()), oci.WithHostDevices, oci.WithAllDevicesAllowed, withUnmaskedPaths)
	} else {
		if len(s.CapDrop) > 0 {
			if contains(s.CapDrop, "ALL") {
				opts = append(opts, oci.WithCapabilities(nil))
			} else {
				opts = append(opts, oci.WithDroppedCapabilities(s.CapDrop))
			}
		}
		if len(s.CapAdd) > 0 {
			if contains(s.CapAdd, "ALL") {
				opts = append(opts, oci.WithCapabilities(allCapabilities()))
			} else {
				opts = append(opts, oci.WithAddedCapabilities(s.CapAdd))
			}
		}
	}
	for _, ns := range []struct {
		on bool
		t  specs.LinuxNamespaceType
	}{{s.PidHost, specs.PIDNamespace}, {s.IpcHost, specs.IPCNamespace}, {s.UtsHost, specs.UTSNamespace}} {
		if ns.on {
			opts = append(opts, oci.WithHostNamespace(ns.t))
		}
	}
	if s.ReadonlyRootfs {
		opts = append(opts, oci.WithRootFSReadonly())
	}
	if s.NoNewPrivileges {
		opts = append(opts, oci.WithNoNewPrivileges)
	}
	if s.ApparmorProfile != "" {
		opts = append(opts, oci.WithApparmorProfile(s.ApparmorProfile))
	}
	if len(s.Rlimits) > 0 || len(s.Sysctl) > 0 || s.OOMScoreAdj != nil || len(s.GroupAdd) > 0 {
		opts = append(opts, func(_ context.Context, _ oci.Client, _ *containers.Container, sp *oci.Spec) error {
			if sp.Process != nil {
				sp.Process.Rlimits = mergeRlimits(sp.Process.Rlimits, s.Rlimits)
				sp.Process.OOMScoreAdj = s.OOMScoreAdj
				sp.Process.User.AdditionalGids = append(sp.Process.User.AdditionalGids, s.GroupAdd...)
			}
			if len(s.Sysctl) > 0 {
				if sp.Linux.Sysctl == nil {
					sp.Linux.Sysctl = map[string]string{}
				}
				for k, v := range s.Sysctl {
					sp.Linux.Sysctl[k] = v
				}
			}
			return nil
		})
	}
	return opts
}

// allCapabilities are the capabilities the agent has, which are all a
// container can get.
func allCapabilities() []string {
	if caps, err := cap.Current(); err == nil {
		return caps
	}
	return cap.Known()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func mergeRlimits(have, want []specs.POSIXRlimit) []specs.POSIXRlimit {
	out := append([]specs.POSIXRlimit{}, want...)
	for _, h := range have {
		replaced := false
		for _, w := range want {
			replaced = replaced || w.Type == h.Type
		}
		if !replaced {
			out = append(out, h)
		}
	}
	return out
}

func withMemoryReservation(bytes uint64) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Linux != nil && s.Linux.Resources != nil && s.Linux.Resources.Memory != nil && bytes > 0 {
			r := int64(bytes)
			s.Linux.Resources.Memory.Reservation = &r
		}
		return nil
	}
}

// withUnmaskedPaths gives a privileged container the paths a default one
// has masked or read-only, and a writable /sys.
func withUnmaskedPaths(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	if s.Linux != nil {
		s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
	}
	for i, m := range s.Mounts {
		if m.Destination == "/sys" {
			var o []string
			for _, opt := range m.Options {
				if opt != "ro" {
					o = append(o, opt)
				}
			}
			s.Mounts[i].Options = append(o, "rw")
		}
	}
	return nil
}

// hostFiles writes the resolv.conf and hosts files a task asks for
// (dns_servers, extra_hosts) into its directory, and mounts them.
func hostFiles(tc *driver.TaskConfig, s *dockerspec.Spec) ([]oci.SpecOpts, error) {
	var mounts []specs.Mount
	if s.ResolvConf != "" {
		p := filepath.Join(tc.Dir, "resolv.conf")
		if err := os.WriteFile(p, []byte(s.ResolvConf), 0o644); err != nil {
			return nil, fmt.Errorf("writing resolv.conf: %w", err)
		}
		mounts = append(mounts, specs.Mount{Type: "bind", Source: p, Destination: "/etc/resolv.conf", Options: []string{"rbind", "ro"}})
	}
	if len(s.Hosts) > 0 {
		base, _ := os.ReadFile("/etc/hosts")
		p := filepath.Join(tc.Dir, "hosts")
		content := string(base)
		if content != "" && !strings.HasSuffix(content, "\n") {
			content += "\n"
		}
		content += strings.Join(s.Hosts, "\n") + "\n"
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return nil, fmt.Errorf("writing hosts: %w", err)
		}
		mounts = append(mounts, specs.Mount{Type: "bind", Source: p, Destination: "/etc/hosts", Options: []string{"rbind", "ro"}})
	}
	if len(mounts) == 0 {
		return nil, nil
	}
	return []oci.SpecOpts{oci.WithMounts(mounts)}, nil
}

// authResolver pulls with a task's registry credentials.
func authResolver(a *dockerspec.Auth) remotes.Resolver {
	creds := func(host string) (string, string, error) {
		if a.Server != "" && !strings.Contains(a.Server, host) {
			return "", "", nil
		}
		return a.Username, a.Password, nil
	}
	return docker.NewResolver(docker.ResolverOptions{
		Hosts: docker.ConfigureDefaultRegistries(docker.WithAuthorizer(docker.NewDockerAuthorizer(docker.WithAuthCreds(creds)))),
	})
}

// mhzPerCore reads one core's clock, for cpu_hard_limit (1000 MHz where
// the kernel does not say).
func mhzPerCore() int {
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
