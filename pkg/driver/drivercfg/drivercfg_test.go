package drivercfg

import (
	"reflect"
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
		{"raw_exec names its options", RawExec, map[string]any{"command": "x", "image": "y"}, "config.image is not an option of the raw_exec driver (command, args)"},
		{"containerd needs an image", Containerd, map[string]any{"command": "x"}, "config.image is required by the containerd driver"},
		{"containerd takes an empty image as none", Containerd, map[string]any{"image": ""}, "config.image is required by the containerd driver"},
		{"containerd refuses a number as image", Containerd, map[string]any{"image": 3.0}, "config.image must be a string"},
		{"containerd refuses booleans in args", Containerd, map[string]any{"image": "x", "args": []any{true}}, "config.args must be a list of strings"},
		{"containerd refuses a negative pids_limit", Containerd, map[string]any{"image": "x", "pids_limit": -1.0}, "config.pids_limit must be a positive number"},
		{"containerd names its options", Containerd, map[string]any{"image": "x", "volumes": []any{}},
			"config.volumes is not an option of the containerd driver (image, image_archive, command, args, entrypoint, working_dir, pids_limit)"},
		{"exec needs a command", Exec, map[string]any{}, "config.command is required by the exec driver"},
		{"exec names its options", Exec, map[string]any{"command": "x", "image": "y"}, "config.image is not an option of the exec driver (command, args)"},
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
