package containerd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/testutil/ctrtest"
)

func TestADockerTaskRunsWithItsOptions(t *testing.T) {
	d := &DockerDriver{Driver: newDriver(t)}
	tc := taskConfig(t, 64)
	if err := os.WriteFile(filepath.Join(tc.Dir, "local", "motd"), []byte("from the bind\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tc.Env = append(tc.Env, "NOMAD_PORT_http=1234")
	tc.Config = map[string]any{
		"image":       ctrtest.ImageRef,
		"load":        archive,
		"entrypoint":  []any{"/bin/sh", "-c"},
		"args":        []any{`echo "$GREETING port ${NOMAD_PORT_http}"; cat /etc/motd; cat /etc/hosts | grep db; cat /etc/resolv.conf; hostname; pwd; echo x > /scratch/f && echo tmpfs ok`},
		"volumes":     []any{"local/motd:/etc/motd:ro"},
		"mount":       []any{map[string]any{"type": "tmpfs", "target": "/scratch"}},
		"extra_hosts": []any{"db:10.1.2.3"},
		"dns_servers": []any{"9.9.9.9"},
		"hostname":    "web-1",
		"work_dir":    "/alloc",
		"cap_drop":    []any{"ALL"},
		"labels":      map[string]any{"team": "web"},
	}
	h, err := d.Start(context.Background(), tc)
	if err != nil {
		t.Fatal(err)
	}
	if res := wait(t, h, 60*time.Second); res.ExitCode != 0 {
		t.Fatalf("result %+v", res)
	}
	var out []byte
	want := []string{"hi port 1234", "from the bind", "10.1.2.3\tdb", "nameserver 9.9.9.9", "web-1", "/alloc", "tmpfs ok"}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		out, _ = os.ReadFile(tc.StdoutPath)
		if strings.Contains(string(out), "tmpfs ok") {
			break
		}
	}
	for _, w := range want {
		if !strings.Contains(string(out), w) {
			t.Errorf("log lacks %q:\n%s", w, out)
		}
	}
}

func TestADockerTaskRunsTheImagesCommandWithItsArgs(t *testing.T) {
	d := &DockerDriver{Driver: newDriver(t)}
	tc := taskConfig(t, 64)
	// The test image's CMD is sh; args replace it, as in Docker.
	tc.Config = map[string]any{"image": ctrtest.ImageRef, "image_archive": archive, "command": "/bin/echo", "args": []any{"echoed"}}
	h, err := d.Start(context.Background(), tc)
	if err != nil {
		t.Fatal(err)
	}
	if res := wait(t, h, 60*time.Second); res.ExitCode != 0 {
		t.Fatalf("result %+v", res)
	}
	var out []byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !strings.Contains(string(out), "echoed"); time.Sleep(50 * time.Millisecond) {
		out, _ = os.ReadFile(tc.StdoutPath)
	}
	if !strings.Contains(string(out), "echoed") {
		t.Fatalf("log %q", out)
	}
}

func TestAPrivilegedDockerTaskIsRefusedUnlessTheNodeAllowsIt(t *testing.T) {
	d := &DockerDriver{Driver: newDriver(t)}
	tc := taskConfig(t, 64)
	tc.Config = map[string]any{"image": ctrtest.ImageRef, "load": archive, "privileged": true, "command": "sh", "args": []any{"-c", "true"}}
	if _, err := d.Start(context.Background(), tc); err == nil || !strings.Contains(err.Error(), "privileged containers are not allowed on this node") {
		t.Fatalf("got %v", err)
	}
	d.AllowPrivileged = true
	h, err := d.Start(context.Background(), tc)
	if err != nil {
		t.Fatal(err)
	}
	if res := wait(t, h, 60*time.Second); res.ExitCode != 0 {
		t.Fatalf("result %+v", res)
	}
}
