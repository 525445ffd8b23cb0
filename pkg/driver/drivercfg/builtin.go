package drivercfg

import "sync"

// RawExec is the raw_exec driver's config: a host command and its
// arguments.
var RawExec = &Schema{Driver: "raw_exec", Fields: []Field{
	{Name: "command", Type: NonEmptyString, Required: true},
	{Name: "args", Type: Args},
	{Name: "work_dir", Type: String, Warn: ignored("work_dir is ignored: raw_exec tasks start in their task directory")},
	{Name: "oom_score_adj", Type: WholeNumber(-1000, 1000), Warn: ignored("oom_score_adj is ignored by raw_exec")},
	{Name: "cgroup_v2_override", Type: String, Warn: ignored("cgroup_v2_override is ignored by raw_exec")},
	{Name: "cgroup_v1_override", Type: StringMap, Warn: ignored("cgroup_v1_override is ignored by raw_exec")},
	{Name: "denied_envvars", Type: Strings, Warn: ignored("denied_envvars is ignored by raw_exec")},
}}

// Containerd is the containerd driver's config: an image (pulled, or
// imported from an archive on the node) and what to run in it.
var Containerd = &Schema{Driver: "containerd", Fields: []Field{
	{Name: "image", Type: String, Required: true},
	{Name: "image_archive", Type: String},
	{Name: "command", Type: String},
	{Name: "args", Type: Strings},
	{Name: "entrypoint", Type: Strings},
	{Name: "working_dir", Type: String},
	{Name: "pids_limit", Type: PositiveNumber},
}}

// Exec is the exec driver's config: a host command, run isolated, and its
// arguments.
var Exec = &Schema{Driver: "exec", Fields: execFields}

// execFields are the exec driver's options; Nomad's that it does not
// honour are accepted with a warning.
var execFields = []Field{
	{Name: "command", Type: NonEmptyString, Required: true},
	{Name: "args", Type: Strings},
	{Name: "pid_mode", Type: String, Warn: ignored("pid_mode is ignored: exec tasks get a pid namespace of their own")},
	{Name: "ipc_mode", Type: String, Warn: ignored("ipc_mode is ignored: exec tasks get an ipc namespace of their own")},
	{Name: "cap_add", Type: Strings, Warn: ignored("cap_add is ignored by the exec driver")},
	{Name: "cap_drop", Type: Strings, Warn: ignored("cap_drop is ignored by the exec driver")},
	{Name: "work_dir", Type: String, Warn: ignored("work_dir is ignored: exec tasks start in /local")},
	{Name: "oom_score_adj", Type: WholeNumber(-1000, 1000), Warn: ignored("oom_score_adj is ignored by the exec driver")},
}

// Mock is the mock driver's config: how long the task "runs", how it ends
// and what it writes.
var Mock = &Schema{Driver: "mock", Fields: []Field{
	{Name: "run_for", Type: Duration},
	{Name: "exit_code", Type: WholeNumber(0, 255)},
	{Name: "start_error", Type: String},
	{Name: "stdout_string", Type: String},
}}

// Exec2 is Nomad's exec2 driver's config, run by the exec driver; its
// unveil option is accepted and ignored.
var Exec2 = &Schema{Driver: "exec2", Fields: mergeFields(execFields, []Field{
	{Name: "unveil", Type: Strings, Warn: ignored("unveil is ignored: the exec driver isolates tasks with namespaces and a read-only view of the host's system directories")},
	{Name: "cpu_hard_limit", Type: Bool, Warn: ignored("cpu_hard_limit is ignored by the exec driver")},
})}

// Builtin lists the configs of the drivers nomadic ships.
func Builtin() []*Schema { return []*Schema{RawExec, Containerd, Exec, Exec2, Docker, Podman, Mock} }

// others are drivers known besides the builtin ones (tests register
// drivers of their own through package catalog).
var others sync.Map

// MarkKnown records a driver that is not builtin but known.
func MarkKnown(driver string) { others.Store(driver, true) }

// Known reports whether a driver is builtin or was marked known.
func Known(driver string) bool {
	if Lookup(driver) != nil {
		return true
	}
	_, ok := others.Load(driver)
	return ok
}

// Lookup returns the config of a driver nomadic ships, or nil.
func Lookup(driver string) *Schema {
	for _, s := range Builtin() {
		if s.Driver == driver {
			return s
		}
	}
	return nil
}
