package containerd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/containerd/containerd/oci"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/driver"
	"github.com/nomadic-project/nomadic/pkg/driver/drivercfg"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ExecName is the exec driver's name in job files.
const ExecName = "exec"

// hostDirs are the host directories an exec task sees, read-only.
var hostDirs = []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/usr", "/etc"}

// ExecDriver runs a command of the host in isolation: its own pid, mount,
// ipc and uts namespaces, cgroup limits, and a root file system made of
// the host's system directories mounted read-only, the allocation
// directories and a private /tmp — a container without an image, run by
// containerd like the containerd driver's.
type ExecDriver struct {
	*Driver
	// As is the name jobs use for it: "exec" when empty, or "exec2"
	// (Nomad's newer exec driver, whose jobs run here unchanged).
	As string
}

// Exec2Name is the name of Nomad's exec2 driver, which the exec driver
// stands in for.
const Exec2Name = "exec2"

// Name returns "exec", or the name the driver stands in for.
func (e *ExecDriver) Name() string {
	if e.As != "" {
		return e.As
	}
	return ExecName
}

func (e *ExecDriver) schema() *drivercfg.Schema {
	if e.As == Exec2Name {
		return drivercfg.Exec2
	}
	return drivercfg.Exec
}

// Fingerprint reports the exec driver healthy when containerd is.
func (e *ExecDriver) Fingerprint(ctx context.Context) *api.DriverInfo {
	info := e.Driver.Fingerprint(ctx)
	if !info.Healthy && info.Reason != "" {
		info.Reason = "the exec driver runs through containerd: " + info.Reason
	}
	return info
}

type execConfig struct {
	Command string
	Args    []string
}

func parseExecConfig(schema *drivercfg.Schema, c map[string]any) (*execConfig, error) {
	v, err := schema.Decode(c)
	if err != nil {
		return nil, err
	}
	return &execConfig{Command: v.String("command"), Args: v.Strings("args")}, nil
}

// Validate checks an exec configuration.
func (e *ExecDriver) Validate(c map[string]any) error { return e.schema().Validate(c) }

// Start runs the command in its isolated root.
func (e *ExecDriver) Start(ctx context.Context, tc *driver.TaskConfig) (driver.Handle, error) {
	cfg, err := parseExecConfig(e.schema(), tc.Config)
	if err != nil {
		return nil, err
	}
	c, err := e.connect()
	if err != nil {
		return nil, err
	}
	rootfs := filepath.Join(tc.Dir, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return nil, fmt.Errorf("creating the task's root: %w", err)
	}
	var mounts []specs.Mount
	for _, dir := range hostDirs {
		if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
			continue // absent, or a link into /usr (merged /usr)
		}
		mounts = append(mounts, specs.Mount{Type: "bind", Source: dir, Destination: dir, Options: []string{"rbind", "ro"}})
	}
	for _, link := range []string{"/bin", "/sbin", "/lib", "/lib64"} {
		if target, err := os.Readlink(link); err == nil {
			_ = os.Symlink(target, filepath.Join(rootfs, link))
		}
	}
	mounts = append(mounts, specs.Mount{Type: "tmpfs", Source: "tmpfs", Destination: "/tmp", Options: []string{"nosuid", "nodev", "mode=1777", "size=" + strconv.Itoa(64<<20)}})
	opts := []oci.SpecOpts{
		oci.WithDefaultSpec(), oci.WithDefaultUnixDevices,
		oci.WithRootFSPath(rootfs),
		oci.WithProcessArgs(append([]string{cfg.Command}, cfg.Args...)...),
		oci.WithProcessCwd("/local"),
		oci.WithMounts(mounts),
	}
	ctx = e.ns(ctx)
	return e.run(ctx, c, tc, runOptions{opts: opts})
}
