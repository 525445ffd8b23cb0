package dockerspec

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/driver/drivercfg"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var task = Task{Dir: "/allocs/a1/web", AllocDir: "/allocs/a1/alloc", Env: []string{"NOMAD_PORT_http=8080", "NOMAD_TASK_DIR=/local", "NODE_NAME=n1"},
	CPU: 500, MHzPerCore: 2000}

func translate(t *testing.T, config map[string]any, opts Options) (*Spec, error) {
	t.Helper()
	if config["image"] == nil {
		config["image"] = "redis:7"
	}
	return Translate(drivercfg.Docker, config, task, opts)
}

func bind(src, dst string, opts ...string) specs.Mount {
	return specs.Mount{Type: "bind", Source: src, Destination: dst, Options: append([]string{"rbind"}, opts...)}
}

func TestEveryDockerOptionTranslates(t *testing.T) {
	one := 1
	for _, tc := range []struct {
		name   string
		config map[string]any
		opts   Options
		check  func(s *Spec) bool
	}{
		{"a Docker Hub name is normalised as Docker does", map[string]any{"image": "redis:7"}, Options{},
			func(s *Spec) bool {
				return s.Image == "docker.io/library/redis:7" && s.PullTimeout == DefaultPullTimeout
			}},
		{"a user image gets latest", map[string]any{"image": "traefik/whoami"}, Options{},
			func(s *Spec) bool { return s.Image == "docker.io/traefik/whoami:latest" }},
		{"a registry image keeps its registry", map[string]any{"image": "ghcr.io/home-assistant/home-assistant:stable"}, Options{},
			func(s *Spec) bool { return s.Image == "ghcr.io/home-assistant/home-assistant:stable" }},
		{"command and args replace the image's command", map[string]any{"command": "redis-server", "args": []any{"--port", "${NOMAD_PORT_http}"}}, Options{},
			func(s *Spec) bool {
				return reflect.DeepEqual(s.Cmd, []string{"redis-server", "--port", "8080"}) && s.Entrypoint == nil
			}},
		{"args alone replace the image's command", map[string]any{"args": []any{"-c", 1.0}}, Options{},
			func(s *Spec) bool { return reflect.DeepEqual(s.Cmd, []string{"-c", "1"}) }},
		{"entrypoint replaces the image's", map[string]any{"entrypoint": []any{"/bin/sh", "-c"}}, Options{},
			func(s *Spec) bool { return reflect.DeepEqual(s.Entrypoint, []string{"/bin/sh", "-c"}) && s.Cmd == nil }},
		{"work_dir and hostname", map[string]any{"work_dir": "/srv", "hostname": "${NODE_NAME}-web"}, Options{},
			func(s *Spec) bool { return s.WorkDir == "/srv" && s.Hostname == "n1-web" }},
		{"labels as a block with dotted keys", map[string]any{"labels": []any{map[string]any{"com.example.team": "web", "n": 1.0}}}, Options{},
			func(s *Spec) bool { return s.Labels["com.example.team"] == "web" && s.Labels["n"] == "1" }},
		{"ports and port_map need nothing at run time", map[string]any{"ports": []any{"http"}, "port_map": []any{map[string]any{"http": 80.0}}}, Options{},
			func(s *Spec) bool { return s.Network == NetworkAlloc && len(s.Mounts) == 0 }},
		{"volumes bind relative paths inside the task directory and host paths as given", map[string]any{"volumes": []any{"local/conf:/etc/app:ro", "/srv/data:/data", "../alloc/shared:/shared:rw,rshared"}}, Options{},
			func(s *Spec) bool {
				return reflect.DeepEqual(s.Mounts, []specs.Mount{bind("/allocs/a1/web/local/conf", "/etc/app", "ro"), bind("/srv/data", "/data", "rw"),
					bind("/allocs/a1/alloc/shared", "/shared", "rw", "rshared")}) && len(s.HostDirs) == 3
			}},
		{"mount blocks: bind and tmpfs", map[string]any{"mount": []any{
			map[string]any{"type": "bind", "source": "local/x", "target": "/x", "readonly": true, "bind_options": []any{map[string]any{"propagation": "rslave"}}},
			map[string]any{"type": "tmpfs", "target": "/tmp", "tmpfs_options": []any{map[string]any{"size": 1048576.0, "mode": 511.0}}},
		}}, Options{}, func(s *Spec) bool {
			return reflect.DeepEqual(s.Mounts, []specs.Mount{bind("/allocs/a1/web/local/x", "/x", "ro", "rslave"),
				{Type: "tmpfs", Source: "tmpfs", Destination: "/tmp", Options: []string{"nosuid", "nodev", "size=1048576", "mode=777"}}})
		}},
		{"the mounts list form", map[string]any{"mounts": []any{map[string]any{"type": "bind", "source": "local", "target": "/usr/local/bin", "readonly": true}}}, Options{},
			func(s *Spec) bool {
				return reflect.DeepEqual(s.Mounts, []specs.Mount{bind("/allocs/a1/web/local", "/usr/local/bin", "ro")})
			}},
		{"network_mode host and none", map[string]any{"network_mode": "host"}, Options{}, func(s *Spec) bool { return s.Network == NetworkHost }},
		{"network_mode none", map[string]any{"network_mode": "none"}, Options{}, func(s *Spec) bool { return s.Network == NetworkNone }},
		{"network_mode bridge joins the allocation's network", map[string]any{"network_mode": "bridge"}, Options{}, func(s *Spec) bool { return s.Network == NetworkAlloc }},
		{"dns options make a resolv.conf", map[string]any{"dns_servers": []any{"1.1.1.1"}, "dns_search_domains": []any{"lan"}, "dns_options": []any{"ndots:2"}}, Options{},
			func(s *Spec) bool { return s.ResolvConf == "nameserver 1.1.1.1\nsearch lan\noptions ndots:2\n" }},
		{"extra_hosts add host lines", map[string]any{"extra_hosts": []any{"db:10.0.0.5", "host.docker.internal:host-gateway"}}, Options{},
			func(s *Spec) bool {
				return reflect.DeepEqual(s.Hosts, []string{"10.0.0.5\tdb", "127.0.0.1\thost.docker.internal"})
			}},
		{"capabilities are named as the runtime names them", map[string]any{"cap_add": []any{"net_admin", "CAP_SYS_TIME"}, "cap_drop": []any{"all"}}, Options{},
			func(s *Spec) bool {
				return reflect.DeepEqual(s.CapAdd, []string{"CAP_NET_ADMIN", "CAP_SYS_TIME"}) && reflect.DeepEqual(s.CapDrop, []string{"ALL"})
			}},
		{"privileged where the node allows it", map[string]any{"privileged": true}, Options{AllowPrivileged: true}, func(s *Spec) bool { return s.Privileged }},
		{"pid_mode host where the node allows it", map[string]any{"pid_mode": "host", "ipc_mode": "host", "uts_mode": "host"}, Options{AllowPrivileged: true},
			func(s *Spec) bool { return s.PidHost && s.IpcHost && s.UtsHost }},
		{"shm_size in bytes or as a size", map[string]any{"shm_size": "64m"}, Options{}, func(s *Spec) bool { return s.ShmSize == 64<<20 }},
		{"ulimit soft and hard", map[string]any{"ulimit": []any{map[string]any{"nofile": "1024:2048", "nproc": 512.0}}}, Options{},
			func(s *Spec) bool {
				return reflect.DeepEqual(s.Rlimits, []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 2048}, {Type: "RLIMIT_NPROC", Soft: 512, Hard: 512}})
			}},
		{"sysctl as a map", map[string]any{"sysctl": map[string]any{"net.core.somaxconn": "16384"}}, Options{},
			func(s *Spec) bool { return s.Sysctl["net.core.somaxconn"] == "16384" }},
		{"init is accepted (and warned about at submission)", map[string]any{"init": true}, Options{}, func(s *Spec) bool { return true }},
		{"force_pull and image_pull_timeout", map[string]any{"force_pull": true, "image_pull_timeout": "30s"}, Options{},
			func(s *Spec) bool { return s.ForcePull && s.PullTimeout == 30*time.Second }},
		{"load imports an archive from the task directory", map[string]any{"load": "local/redis.tar"}, Options{},
			func(s *Spec) bool { return s.Archive == "/allocs/a1/web/local/redis.tar" }},
		{"auth gives registry credentials", map[string]any{"auth": []any{map[string]any{"username": "u", "password": "p", "server_address": "ghcr.io"}}, "auth_soft_fail": true}, Options{},
			func(s *Spec) bool {
				return *s.Auth == Auth{Username: "u", Password: "p", Server: "ghcr.io"} && s.AuthSoftFail
			}},
		{"memory_hard_limit is the limit", map[string]any{"memory_hard_limit": 1024.0}, Options{}, func(s *Spec) bool { return s.MemoryLimitMB == 1024 }},
		{"cpu_hard_limit sets a CFS quota from the task's MHz", map[string]any{"cpu_hard_limit": true}, Options{},
			func(s *Spec) bool { return s.CPUPeriod == 100000 && s.CPUQuota == 25000 }},
		{"readonly_rootfs and security_opt", map[string]any{"readonly_rootfs": true, "security_opt": []any{"no-new-privileges", "apparmor=docker-default", "seccomp=unconfined"}}, Options{},
			func(s *Spec) bool {
				return s.ReadonlyRootfs && s.NoNewPrivileges && s.ApparmorProfile == "docker-default"
			}},
		{"pids_limit, oom_score_adj and group_add", map[string]any{"pids_limit": 64.0, "oom_score_adj": 1.0, "group_add": []any{"44"}}, Options{},
			func(s *Spec) bool {
				return s.PidsLimit == 64 && reflect.DeepEqual(s.OOMScoreAdj, &one) && reflect.DeepEqual(s.GroupAdd, []uint32{44})
			}},
		{"devices default to the same path and rwm", map[string]any{"devices": []any{map[string]any{"host_path": "/dev/ttyUSB0"}}}, Options{},
			func(s *Spec) bool {
				return reflect.DeepEqual(s.Devices, []Device{{"/dev/ttyUSB0", "/dev/ttyUSB0", "rwm"}})
			}},
		{"options that need a Docker daemon are accepted and ignored", map[string]any{"logging": []any{map[string]any{"type": "loki"}}, "tty": true,
			"interactive": true, "userns_mode": "host", "runtime": "runsc", "mac_address": "x", "network_aliases": []any{"a"}, "storage_opt": map[string]any{"size": "1G"}}, Options{},
			func(s *Spec) bool { return s.Image != "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := translate(t, tc.config, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(s) {
				t.Fatalf("unexpected spec %+v", s)
			}
		})
	}
}

func TestDockerOptionsThatCannotRunAreRefusedWithTheirName(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config map[string]any
		opts   Options
		want   string
	}{
		{"privileged on a node that does not allow it", map[string]any{"privileged": true}, Options{}, "config.privileged: privileged containers are not allowed on this node"},
		{"pid_mode host on a node that does not allow it", map[string]any{"pid_mode": "host"}, Options{}, `config.pid_mode "host" is not allowed on this node`},
		{"a relative volume that leaves the allocation", map[string]any{"volumes": []any{"../../etc:/etc"}}, Options{}, "leaves the allocation directory"},
		{"a host path where the node denies them", map[string]any{"volumes": []any{"/etc:/etc"}}, Options{DenyHostPaths: true}, "host path /etc is refused"},
		{"a volume without a container path", map[string]any{"volumes": []any{"/srv"}}, Options{}, "is not host_path:container_path"},
		{"a relative container path", map[string]any{"volumes": []any{"/srv:data"}}, Options{}, `container path "data" must be absolute`},
		{"a named volume mount", map[string]any{"mount": []any{map[string]any{"type": "volume", "source": "pg", "target": "/data"}}}, Options{}, "named volumes"},
		{"a mount without a type (a named volume, Nomad's default)", map[string]any{"mount": []any{map[string]any{"source": "pg", "target": "/data"}}}, Options{}, `say type = "bind"`},
		{"a bad ulimit", map[string]any{"ulimit": map[string]any{"nofile": "2048:1024"}}, Options{}, "hard at least soft"},
		{"an unknown ulimit", map[string]any{"ulimit": map[string]any{"files": "1"}}, Options{}, `config.ulimit "files" is not a resource limit`},
		{"an image that is no reference", map[string]any{"image": "Redis:7"}, Options{}, `config.image "Redis:7" is not an image reference`},
		{"an unknown option", map[string]any{"colour": "red"}, Options{}, "config.colour is not an option of the docker driver"},
		{"a bad extra host", map[string]any{"extra_hosts": []any{"nohost"}}, Options{}, `config.extra_hosts entry "nohost" is not host:ip`},
		{"a named group", map[string]any{"group_add": []any{"video"}}, Options{}, "only numeric group ids"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := translate(t, tc.config, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestPodmanTakesItsOwnOptionsToo(t *testing.T) {
	s, err := Translate(drivercfg.Podman, map[string]any{"image": "docker.io/library/caddy:2", "working_dir": "/srv", "tmpfs": []any{"/run:size=1m"}, "entrypoint": "caddy",
		"devices": []any{"/dev/net/tun", "/dev/a:/dev/b:r"}}, task, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.WorkDir != "/srv" || len(s.Mounts) != 1 || s.Mounts[0].Destination != "/run" || !reflect.DeepEqual(s.Entrypoint, []string{"caddy"}) ||
		!reflect.DeepEqual(s.Devices, []Device{{"/dev/net/tun", "/dev/net/tun", "rwm"}, {"/dev/a", "/dev/b", "r"}}) {
		t.Fatalf("spec %+v", s)
	}
}

func TestRuntimeInterpolationUsesTheTaskEnvironmentOnly(t *testing.T) {
	env := map[string]string{"A": "1", "NOMAD_PORT_x": "80"}
	for in, want := range map[string]string{
		"${A}-${NOMAD_PORT_x}": "1-80", "${ A }": "1", "${attr.unique.hostname}": "${attr.unique.hostname}", "${B}/x": "${B}/x", "plain": "plain", "${open": "${open",
	} {
		if got := expand(in, env); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}
