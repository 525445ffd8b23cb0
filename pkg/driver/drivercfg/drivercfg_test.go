package drivercfg

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestConfigsAreCheckedWithTheDriversMessages(t *testing.T) {
	for _, tc := range []struct {
		name   string
		schema *Schema
		config map[string]any
		want   string
	}{
		{"raw_exec needs a command", RawExec, nil, "config.command is required by the raw_exec driver"},
		{"raw_exec refuses an empty command", RawExec, map[string]any{"command": ""}, "config.command must be a non-empty string"},
		{"raw_exec refuses a number as command", RawExec, map[string]any{"command": 5.0}, "config.command must be a non-empty string"},
		{"raw_exec refuses args that are no list", RawExec, map[string]any{"command": "x", "args": "no"}, "config.args must be a list of strings"},
		{"raw_exec refuses a map in its args", RawExec, map[string]any{"command": "x", "args": []any{map[string]any{}}}, "config.args must be a list of strings"},
		{"raw_exec names its options", RawExec, map[string]any{"command": "x", "image": "y"}, "config.image is not an option of the raw_exec driver (command, args, work_dir, oom_score_adj, cgroup_v2_override, cgroup_v1_override, denied_envvars)"},
		{"containerd needs an image", Containerd, map[string]any{"command": "x"}, "config.image is required by the containerd driver"},
		{"containerd takes an empty image as none", Containerd, map[string]any{"image": ""}, "config.image is required by the containerd driver"},
		{"containerd refuses a number as image", Containerd, map[string]any{"image": 3.0}, "config.image must be a string"},
		{"containerd refuses booleans in args", Containerd, map[string]any{"image": "x", "args": []any{true}}, "config.args must be a list of strings"},
		{"containerd refuses a negative pids_limit", Containerd, map[string]any{"image": "x", "pids_limit": -1.0}, "config.pids_limit must be a positive number"},
		{"containerd names its options", Containerd, map[string]any{"image": "x", "volumes": []any{}},
			"config.volumes is not an option of the containerd driver (image, image_archive, command, args, entrypoint, working_dir, pids_limit)"},
		{"exec needs a command", Exec, map[string]any{}, "config.command is required by the exec driver"},
		{"exec names its options", Exec, map[string]any{"command": "x", "image": "y"}, "config.image is not an option of the exec driver (command, args, pid_mode, ipc_mode, cap_add, cap_drop, work_dir, oom_score_adj)"},
		{"mock refuses a bad duration", Mock, map[string]any{"run_for": "soon"}, `config.run_for must be a duration such as "10s"`},
		{"mock refuses a negative duration", Mock, map[string]any{"run_for": "-1s"}, `config.run_for must be a duration such as "10s"`},
		{"mock refuses an exit code above 255", Mock, map[string]any{"exit_code": 300.0}, "config.exit_code must be a whole number from 0 to 255"},
		{"mock refuses a fractional exit code", Mock, map[string]any{"exit_code": 1.5}, "config.exit_code must be a whole number from 0 to 255"},
		{"mock refuses a number as start_error", Mock, map[string]any{"start_error": 1.0}, "config.start_error must be a string"},
		{"mock names its options", Mock, map[string]any{"nope": 1.0}, "config.nope is not an option of the mock driver (run_for, exit_code, start_error, stdout_string)"},
		{"options are checked in name order", Mock, map[string]any{"b": 1.0, "a": 1.0, "exit_code": 300.0}, "config.a is not an option of the mock driver (run_for, exit_code, start_error, stdout_string)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.schema.Validate(tc.config)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestDecodedValuesReadAsTheDriversUseThem(t *testing.T) {
	v, err := RawExec.Decode(map[string]any{"command": "sh", "args": []any{"-c", 6379.0, true, 1.5}})
	if err != nil {
		t.Fatal(err)
	}
	if v.String("command") != "sh" || !reflect.DeepEqual(v.Strings("args"), []string{"-c", "6379", "true", "1.5"}) {
		t.Fatalf("raw_exec values %v", v)
	}
	v, err = Containerd.Decode(map[string]any{"image": "redis:7", "pids_limit": 64.0})
	if err != nil {
		t.Fatal(err)
	}
	if v.String("image") != "redis:7" || v.Number("pids_limit") != 64 || v.String("command") != "" || v.Strings("args") != nil {
		t.Fatalf("containerd values %v", v)
	}
	v, err = Mock.Decode(map[string]any{"run_for": "50ms", "exit_code": 3.0})
	if err != nil {
		t.Fatal(err)
	}
	if v.Duration("run_for") != 50*time.Millisecond || v.Int("exit_code") != 3 {
		t.Fatalf("mock values %v", v)
	}
}

func TestNewOptionTypesReadTheShapesJobFilesGive(t *testing.T) {
	for _, tc := range []struct {
		name string
		typ  Type
		in   any
		want any
		ok   bool
	}{
		{"a map attribute", StringMap, map[string]any{"a": "b", "n": 1.0, "t": true}, map[string]string{"a": "b", "n": "1", "t": "true"}, true},
		{"a block", StringMap, []any{map[string]any{"a": "b"}, map[string]any{"c": "d"}}, map[string]string{"a": "b", "c": "d"}, true},
		{"a map of lists", StringMap, map[string]any{"a": []any{"b"}}, nil, false},
		{"one block as objects", Objects, map[string]any{"a": 1.0}, []map[string]any{{"a": 1.0}}, true},
		{"blocks as objects", Objects, []any{map[string]any{"a": 1.0}}, []map[string]any{{"a": 1.0}}, true},
		{"a string is no object", Objects, "x", nil, false},
		{"a bool string", Bool, "true", true, true},
		{"a size string", Bytes, "64m", int64(64 << 20), true},
		{"a size in bytes", Bytes, 1024.0, int64(1024), true},
		{"a bad size", Bytes, "lots", nil, false},
		{"a string as a list", StringOrStrings, "sh", []string{"sh"}, true},
		{"a number string", Number, "512", 512.0, true},
		{"podman device strings", Devices, []any{"/dev/fuse"}, []map[string]any{{"host_path": "/dev/fuse"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.typ.Decode(tc.in)
			if ok != tc.ok || (ok && !reflect.DeepEqual(got, tc.want)) {
				t.Fatalf("got %#v %v, want %#v %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestDockerOptionsThatNeedADaemonAreWarnedAtTheOption(t *testing.T) {
	w := Docker.Warnings(map[string]any{
		"image": "redis", "logging": []any{map[string]any{"type": "loki"}}, "privileged": true, "network_mode": "weave",
		"security_opt": []any{"no-new-privileges", "seccomp=/x.json"}, "mount": []any{map[string]any{"type": "volume"}}, "mounts": []any{map[string]any{"source": "x", "target": "/x"}}, "init": false,
	})
	got := map[string]string{}
	for _, x := range w {
		got[x.Option] = x.Message
	}
	for opt, want := range map[string]string{
		"logging": "needs a Docker daemon", "privileged": "-docker-allow-privileged", "network_mode": `network_mode "weave" names a Docker network`,
		"security_opt": `containerd cannot honour "seccomp=/x.json"`, "mount": "Docker named volumes", "mounts": "default type",
	} {
		if !strings.Contains(got[opt], want) {
			t.Errorf("warning of %s is %q, want %q", opt, got[opt], want)
		}
	}
	if _, warned := got["init"]; warned || len(got) != 6 {
		t.Errorf("unexpected warnings %v", got)
	}
}

func TestEveryBuiltinDriverIsKnownByName(t *testing.T) {
	for _, n := range []string{"docker", "podman", "exec2", "exec", "raw_exec", "containerd", "mock"} {
		if Lookup(n) == nil || !Known(n) {
			t.Errorf("%s is not known", n)
		}
	}
	if Known("java") {
		t.Error("java is known")
	}
	MarkKnown("java")
	if !Known("java") || Lookup("java") != nil {
		t.Error("a marked driver is not known, or has a schema")
	}
}
