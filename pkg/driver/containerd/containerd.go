// Package containerd runs tasks as containers through containerd, in a
// namespace of nomadic's own. Containers carry the allocation, task and job
// version in labels, so that an agent that restarts finds them again from
// containerd alone; output goes to log files written shim-side, so the
// agent is never in a container's output path.
package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd"
	apievents "github.com/containerd/containerd/api/events"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/oci"
	"github.com/containerd/containerd/remotes"
	"github.com/containerd/typeurl/v2"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/driver"
	"github.com/nomadic-project/nomadic/pkg/driver/drivercfg"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Name is the driver's name in job files.
const Name = "containerd"

// DefaultNamespace is the containerd namespace of nomadic's containers.
const DefaultNamespace = "nomadic"

// Labels put on every container.
const (
	LabelAlloc      = "nomadic.alloc_id"
	LabelTask       = "nomadic.task"
	LabelJob        = "nomadic.job_id"
	LabelJobVersion = "nomadic.job_version"
)

// Driver is the containerd driver.
type Driver struct {
	// Address is containerd's socket.
	Address string
	// Namespace is the containerd namespace (default "nomadic").
	Namespace string

	mu     sync.Mutex
	client *containerd.Client
	// pulls holds one lock per image, so that tasks starting together
	// fetch an image once instead of racing on its content.
	pulls map[string]*sync.Mutex
	// drains watches the tasks' log files for the shim's last write.
	drains drainWatch
}

// Name returns "containerd".
func (d *Driver) Name() string { return Name }

func (d *Driver) ns(ctx context.Context) context.Context {
	n := d.Namespace
	if n == "" {
		n = DefaultNamespace
	}
	return namespaces.WithNamespace(ctx, n)
}

func (d *Driver) connect() (*containerd.Client, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.client != nil {
		return d.client, nil
	}
	if d.Address == "" {
		return nil, errors.New("no containerd socket configured")
	}
	c, err := containerd.New(d.Address, containerd.WithTimeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("connecting to containerd at %s: %w", d.Address, err)
	}
	d.client = c
	return c, nil
}

// Close closes the connection to containerd.
func (d *Driver) Close() error {
	d.drains.close()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.client == nil {
		return nil
	}
	err := d.client.Close()
	d.client = nil
	return err
}

// Fingerprint reports the driver healthy when containerd answers.
func (d *Driver) Fingerprint(ctx context.Context) *api.DriverInfo {
	if d.Address == "" {
		return &api.DriverInfo{Detected: false, Healthy: false, Reason: "no containerd socket configured (-containerd-address)"}
	}
	if _, err := os.Stat(d.Address); err != nil {
		return &api.DriverInfo{Detected: false, Healthy: false, Reason: fmt.Sprintf("containerd socket %s: %v", d.Address, err)}
	}
	c, err := d.connect()
	if err != nil {
		return &api.DriverInfo{Detected: true, Healthy: false, Reason: err.Error()}
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if ok, err := c.IsServing(cctx); err != nil || !ok {
		return &api.DriverInfo{Detected: true, Healthy: false, Reason: fmt.Sprintf("containerd is not serving: %v", err)}
	}
	return &api.DriverInfo{Detected: true, Healthy: true}
}

// config is a task's containerd configuration.
type config struct {
	Image        string
	ImageArchive string
	Command      string
	Args         []string
	Entrypoint   []string
	WorkingDir   string
	PidsLimit    int64
}

func parseConfig(c map[string]any) (*config, error) {
	v, err := drivercfg.Containerd.Decode(c)
	if err != nil {
		return nil, err
	}
	return &config{
		Image:        v.String("image"),
		ImageArchive: v.String("image_archive"),
		Command:      v.String("command"),
		Args:         v.Strings("args"),
		Entrypoint:   v.Strings("entrypoint"),
		WorkingDir:   v.String("working_dir"),
		PidsLimit:    int64(v.Number("pids_limit")),
	}, nil
}

// Validate checks a containerd configuration.
func (d *Driver) Validate(c map[string]any) error { return drivercfg.Containerd.Validate(c) }

// containerID names a task's container.
func containerID(alloc, task string) string { return alloc + "-" + task }

// Start pulls or imports the image, creates the container and starts its
// task.
func (d *Driver) Start(ctx context.Context, tc *driver.TaskConfig) (driver.Handle, error) {
	cfg, err := parseConfig(tc.Config)
	if err != nil {
		return nil, err
	}
	c, err := d.connect()
	if err != nil {
		return nil, err
	}
	ctx = d.ns(ctx)
	image, err := d.image(ctx, c, imageRequest{ref: cfg.Image, archive: cfg.ImageArchive, timeout: 5 * time.Minute})
	if err != nil {
		return nil, err
	}
	opts := []oci.SpecOpts{oci.WithImageConfig(image)}
	switch {
	case len(cfg.Entrypoint) > 0:
		opts = append(opts, oci.WithProcessArgs(append(append([]string{}, cfg.Entrypoint...), argsOf(cfg)...)...))
	case cfg.Command != "":
		opts = append(opts, oci.WithProcessArgs(argsOf(cfg)...))
	case len(cfg.Args) > 0:
		opts = append(opts, oci.WithProcessArgs(cfg.Args...))
	}
	if cfg.WorkingDir != "" {
		opts = append(opts, oci.WithProcessCwd(cfg.WorkingDir))
	}
	if cfg.PidsLimit > 0 {
		opts = append(opts, oci.WithPidsLimit(cfg.PidsLimit))
	}
	return d.run(ctx, c, tc, runOptions{opts: opts}, containerd.WithImage(image), containerd.WithNewSnapshot(containerID(tc.AllocID, tc.TaskName)+"-snapshot", image))
}

// runOptions are what a driver asks of run: spec options that say what to
// run (applied first), options applied after the common ones (to replace
// them, as a docker task's memory limit or mounts do), the network to
// join and labels to add.
type runOptions struct {
	opts    []oci.SpecOpts
	post    []oci.SpecOpts
	network string // "" (the allocation's), "host" or "none"
	labels  map[string]string
}

// run creates a task's container from spec options that say what to run,
// adds what every task gets (environment, user, limits, mounts, network,
// labels) and starts it.
func (d *Driver) run(ctx context.Context, c *containerd.Client, tc *driver.TaskConfig, ro runOptions, copts ...containerd.NewContainerOpts) (driver.Handle, error) {
	opts := ro.opts
	id := containerID(tc.AllocID, tc.TaskName)
	// A container left over from an earlier attempt of this task is
	// removed first.
	if old, err := c.LoadContainer(ctx, id); err == nil {
		d.remove(ctx, old)
	}
	opts = append(opts, oci.WithEnv(containerEnv(tc.Env)))
	if tc.User != "" {
		opts = append(opts, oci.WithUser(tc.User))
	}
	mem := tc.Resources.MemoryMB
	if tc.Resources.MemoryMax > mem {
		mem = tc.Resources.MemoryMax
	}
	if mem > 0 && tc.Resources.MemoryMax != api.MemoryUnlimited {
		opts = append(opts, oci.WithMemoryLimit(uint64(mem)<<20))
	}
	if tc.Resources.CPU > 0 {
		opts = append(opts, oci.WithCPUShares(uint64(max(tc.Resources.CPU, 2))))
	}
	opts = append(opts, oci.WithMounts(taskMounts(tc)))
	switch {
	case ro.network == "none":
		// A network namespace of its own, with only loopback.
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace}), oci.WithHostHostsFile, oci.WithHostResolvconf)
	case tc.NetNS != "" && ro.network != "host":
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: tc.NetNS}),
			oci.WithHostHostsFile, oci.WithHostResolvconf)
	default:
		opts = append(opts, oci.WithHostNamespace(specs.NetworkNamespace), oci.WithHostHostsFile, oci.WithHostResolvconf)
	}
	opts = append(opts, ro.post...)
	labels := map[string]string{}
	for k, v := range ro.labels {
		labels[k] = v
	}
	for k, v := range map[string]string{
		LabelAlloc: tc.AllocID, LabelTask: tc.TaskName, LabelJob: tc.JobID, LabelJobVersion: strconv.FormatUint(tc.JobVersion, 10),
	} {
		labels[k] = v
	}
	copts = append(copts, containerd.WithNewSpec(opts...), containerd.WithContainerLabels(labels))
	container, err := c.NewContainer(ctx, id, copts...)
	if err != nil {
		return nil, fmt.Errorf("creating container: %w", err)
	}
	// The shim writes the task's output straight to the log file.
	task, err := container.NewTask(ctx, cio.LogFile(tc.StdoutPath))
	if err != nil {
		d.remove(ctx, container)
		return nil, fmt.Errorf("creating task: %w", err)
	}
	h := d.newHandle(ctx, container, task)
	h.logPath = tc.StdoutPath
	h.drain = d.drains.watch(tc.StdoutPath)
	if err := h.arm(ctx); err != nil {
		h.drain.close()
		d.remove(ctx, container)
		return nil, err
	}
	if err := task.Start(ctx); err != nil {
		h.cancel()
		h.drain.close()
		d.remove(ctx, container)
		return nil, fmt.Errorf("starting task: %w", err)
	}
	return h, nil
}

func argsOf(cfg *config) []string {
	if cfg.Command == "" {
		return cfg.Args
	}
	return append([]string{cfg.Command}, cfg.Args...)
}

// containerEnv rewrites the allocation directory variables to where the
// directories are mounted inside the container.
func containerEnv(env []string) []string {
	out := make([]string, 0, len(env))
	inside := map[string]string{"NOMAD_ALLOC_DIR": "/alloc", "NOMAD_TASK_DIR": "/local", "NOMAD_SECRETS_DIR": "/secrets"}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if v, ok := inside[k]; ok {
			kv = k + "=" + v
		}
		out = append(out, kv)
	}
	return out
}

func taskMounts(tc *driver.TaskConfig) []specs.Mount {
	var out []specs.Mount
	bind := func(src, dst string) {
		if src == "" {
			return
		}
		out = append(out, specs.Mount{Type: "bind", Source: src, Destination: dst, Options: []string{"rbind", "rw"}})
	}
	bind(tc.AllocDir, "/alloc")
	if tc.Dir != "" {
		bind(filepath.Join(tc.Dir, "local"), "/local")
		bind(filepath.Join(tc.Dir, "secrets"), "/secrets")
	}
	return out
}

// image returns the task's image: imported from an OCI archive when one is
// given, else pulled unless it is already present. Pulls and imports run
// under a containerd lease, so its garbage collector cannot remove content
// half-written.
// imageRequest says where a task's image comes from.
type imageRequest struct {
	ref     string
	archive string
	// force pulls the image even when it is present.
	force   bool
	timeout time.Duration
	// resolver, when set, pulls with registry credentials; softFail
	// retries without them when that fails.
	resolver remotes.Resolver
	softFail bool
}

func (d *Driver) image(ctx context.Context, c *containerd.Client, req imageRequest) (containerd.Image, error) {
	cfg := struct{ Image, ImageArchive string }{req.ref, req.archive}
	d.mu.Lock()
	if d.pulls == nil {
		d.pulls = map[string]*sync.Mutex{}
	}
	lock := d.pulls[cfg.Image]
	if lock == nil {
		lock = &sync.Mutex{}
		d.pulls[cfg.Image] = lock
	}
	d.mu.Unlock()
	lock.Lock()
	defer lock.Unlock()
	if img, err := c.GetImage(ctx, cfg.Image); err == nil && (!req.force || cfg.ImageArchive != "") {
		return img, unpack(ctx, img)
	}
	if req.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, req.timeout)
		defer cancel()
	}
	ctx, done, err := c.WithLease(ctx)
	if err != nil {
		return nil, fmt.Errorf("taking a containerd lease: %w", err)
	}
	defer func() { _ = done(context.WithoutCancel(ctx)) }()
	if cfg.ImageArchive != "" {
		f, err := os.Open(cfg.ImageArchive)
		if err != nil {
			return nil, fmt.Errorf("opening image archive: %w", err)
		}
		defer f.Close()
		if _, err := c.Import(ctx, f); err != nil {
			return nil, fmt.Errorf("importing image archive %s: %w", cfg.ImageArchive, err)
		}
		img, err := c.GetImage(ctx, cfg.Image)
		if err != nil {
			return nil, fmt.Errorf("image archive %s has no image %q: %w", cfg.ImageArchive, cfg.Image, err)
		}
		return img, unpack(ctx, img)
	}
	pullOpts := []containerd.RemoteOpt{containerd.WithPullUnpack}
	if req.resolver != nil {
		pullOpts = append(pullOpts, containerd.WithResolver(req.resolver))
	}
	img, err := c.Pull(ctx, cfg.Image, pullOpts...)
	if err != nil && req.resolver != nil && req.softFail {
		img, err = c.Pull(ctx, cfg.Image, containerd.WithPullUnpack)
	}
	if err != nil {
		return nil, fmt.Errorf("pulling image %s: %w", cfg.Image, err)
	}
	return img, nil
}

func unpack(ctx context.Context, img containerd.Image) error {
	ok, err := img.IsUnpacked(ctx, containerd.DefaultSnapshotter)
	if err != nil || ok {
		return err
	}
	if err := img.Unpack(ctx, containerd.DefaultSnapshotter); err != nil {
		return fmt.Errorf("unpacking image %s: %w", img.Name(), err)
	}
	return nil
}

// remove deletes a container's task and the container with its snapshot.
func (d *Driver) remove(ctx context.Context, container containerd.Container) {
	ctx = context.WithoutCancel(ctx)
	if task, err := container.Task(ctx, nil); err == nil {
		_ = task.Kill(ctx, syscall.SIGKILL)
		st, _ := task.Wait(ctx)
		select {
		case <-st:
		case <-time.After(5 * time.Second):
		}
		_, _ = task.Delete(ctx, containerd.WithProcessKill)
	}
	_ = container.Delete(ctx, containerd.WithSnapshotCleanup)
}

// Recover finds a task's container after an agent restart. A container
// whose task is gone or stopped is reported as such: it ended while the
// agent was away.
func (d *Driver) Recover(ctx context.Context, state map[string]string) (driver.Handle, error) {
	id := state["container_id"]
	if id == "" {
		return nil, driver.ErrTaskGone
	}
	c, err := d.connect()
	if err != nil {
		return nil, err
	}
	ctx = d.ns(ctx)
	container, err := c.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil, driver.ErrTaskGone
	} else if err != nil {
		return nil, fmt.Errorf("loading container %s: %w", id, err)
	}
	task, err := container.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		d.remove(ctx, container)
		return nil, driver.ErrTaskGone
	} else if err != nil {
		return nil, fmt.Errorf("loading task of %s: %w", id, err)
	}
	h := d.newHandle(ctx, container, task)
	// A task that is still running holds its log file open: its last
	// output is waited for as after a start.
	if h.logPath = state["log_path"]; h.logPath != "" {
		if st, err := task.Status(ctx); err == nil && st.Status == containerd.Running {
			h.drain = d.drains.watch(h.logPath)
			// It may have ended, and its log closed, before the watch:
			// no close would come then.
			if st, err := task.Status(ctx); err != nil || st.Status != containerd.Running {
				h.drain.close()
				h.drain = nil
			}
		}
	}
	if err := h.arm(ctx); err != nil {
		h.drain.close()
		return nil, err
	}
	return h, nil
}

type handle struct {
	d         *Driver
	container containerd.Container
	task      containerd.Task
	pid       int

	once   sync.Once
	done   chan struct{}
	result *driver.ExitResult
	oom    chan struct{}
	cancel context.CancelFunc

	logPath string
	drain   *logDrain // nil: the task is deleted at once at its exit
	drained bool      // the shim closed the log before the deletion
}

func (d *Driver) newHandle(ctx context.Context, container containerd.Container, task containerd.Task) *handle {
	return &handle{d: d, container: container, task: task, pid: int(task.Pid()), done: make(chan struct{}), oom: make(chan struct{})}
}

// arm waits for the task's exit and listens for its OOM event. It must be
// called before the task starts, so that a quick exit is not missed.
func (h *handle) arm(ctx context.Context) error {
	bg, cancel := context.WithCancel(h.d.ns(context.WithoutCancel(ctx)))
	h.cancel = cancel
	exitCh, err := h.task.Wait(bg)
	if err != nil {
		cancel()
		return fmt.Errorf("waiting for task: %w", err)
	}
	c, _ := h.d.connect()
	events, errs := c.Subscribe(bg, fmt.Sprintf(`topic=="/tasks/oom",event.container_id==%q`, h.container.ID()))
	go func() {
		for {
			select {
			case ev := <-events:
				if ev == nil {
					return
				}
				if v, err := typeurl.UnmarshalAny(ev.Event); err == nil {
					if _, ok := v.(*apievents.TaskOOM); ok {
						select {
						case <-h.oom:
						default:
							close(h.oom)
						}
					}
				}
			case <-errs:
				return
			case <-bg.Done():
				return
			}
		}
	}()
	go func() {
		st, ok := <-exitCh
		res := &driver.ExitResult{}
		if !ok {
			res.Unknown = true
		} else {
			code, _, err := st.Result()
			res.ExitCode = int(code)
			res.Err = err
			if code > 128 && code < 160 {
				res.Signal = int(code) - 128
			}
		}
		// An OOM kill is reported by its event, which may trail the exit,
		// by a lot on a loaded machine. Only a SIGKILL can be one.
		wait := time.Duration(0)
		if res.Signal == 9 {
			wait = 2 * time.Second
		}
		select {
		case <-h.oom:
			res.OOMKilled = true
		case <-time.After(wait):
			select {
			case <-h.oom:
				res.OOMKilled = true
			default:
			}
		}
		h.finish(res)
	}()
	return nil
}

func (h *handle) finish(r *driver.ExitResult) {
	h.once.Do(func() {
		// The container goes before the exit is reported, so that whoever
		// sees the exit finds it gone.
		// Its last output is in the log file first (see logDrain).
		h.drained = h.drain.wait(logDrainTimeout)
		ctx := h.d.ns(context.Background())
		_, _ = h.task.Delete(ctx)
		_ = h.container.Delete(ctx, containerd.WithSnapshotCleanup)
		h.cancel()
		h.result = r
		close(h.done)
	})
}

func (h *handle) PID() int { return h.pid }

func (h *handle) State() map[string]string {
	st := map[string]string{"container_id": h.container.ID()}
	if h.logPath != "" {
		st["log_path"] = h.logPath
	}
	return st
}

func (h *handle) Wait(ctx context.Context) (*driver.ExitResult, error) {
	select {
	case <-h.done:
		return h.result, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (h *handle) Signal(sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return fmt.Errorf("unsupported signal %v", sig)
	}
	err := h.task.Kill(h.d.ns(context.Background()), s, containerd.WithKillAll)
	if err != nil && !errdefs.IsNotFound(err) {
		return err
	}
	return nil
}

func (h *handle) Stop(ctx context.Context, sig os.Signal, timeout time.Duration) error {
	return driver.Stop(ctx, h.done, h.Signal, sig, timeout, 10*time.Second)
}
