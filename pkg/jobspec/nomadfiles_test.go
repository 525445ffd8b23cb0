package jobspec

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// The grammar of Nomad users' job files beyond nomadic's own: each case is
// a job as people write them, read into the API form, with the warnings
// that say what is not done as asked.
func TestNomadUsersJobFilesAreRead(t *testing.T) {
	cases := []struct {
		name             string
		job, group, task string
		check            func(j *api.Job) bool
		warning          string
	}{
		{"the scaling block bounds count and keeps its policy", "", `scaling {
      min = 2
      max = 5
      policy {
        cooldown = "1m"
      }
    }`, "", func(j *api.Job) bool {
			g := j.Groups[0]
			return g.Count == 2 && g.Scaling.Min == 2 && g.Scaling.Max == 5 && g.Scaling.Enabled && g.Scaling.Policy["cooldown"] == "1m"
		}, ""},
		{"a Connect sidecar is kept, with a warning that the group is not placed", "", `network { mode = "bridge" }
    service {
      name = "api"
      connect {
        sidecar_service {
          proxy {
            upstreams {
              destination_name = "db"
              local_bind_port  = 5432
            }
          }
        }
      }
    }`, "", func(j *api.Job) bool { return j.Groups[0].Services[0].Connect.Mesh() == "sidecar_service" },
			`7:7: Consul Connect sidecar_service needs a service mesh, which nomadic does not have: the group is accepted but not placed`},
		{"a CSI volume is kept, with a warning that the group is not placed", "", `volume "v" {
      type = "csi"
      source = "ebs"
      access_mode = "single-node-writer"
      attachment_mode = "file-system"
    }`, "", func(j *api.Job) bool { v := j.Groups[0].Volumes["v"]; return v.Type == "csi" && v.Source == "ebs" },
			`4:1: volume "v" is a CSI volume, which nomadic does not mount`},
		{"a CSI plugin task runs as a plain task, with a warning", "", "", `csi_plugin {
        id = "ebs"
        type = "node"
        mount_dir = "/csi"
      }`, func(j *api.Job) bool { return len(j.Groups[0].Tasks) == 1 }, "7:1: csi_plugin is ignored"},
		{"memory_max = -1 is no memory limit, as in Nomad", "", "", `resources {
        memory     = 64
        memory_max = -1
      }`, func(j *api.Job) bool { return j.Groups[0].Tasks[0].Resources.MemoryMax == api.MemoryUnlimited }, ""},
		{"a device's first_available asks are kept", "", "", `resources {
        device "nvidia/gpu" {
          first_available {
            count = 2
          }
          first_available {
            count = 1
          }
        }
      }`, func(j *api.Job) bool {
			d := j.Groups[0].Tasks[0].Resources.Devices[0]
			return len(d.FirstAvailable) == 2 && fmt.Sprint(d.FirstAvailable[1]["count"]) == "1"
		}, ""},
		{"a job's name attribute is its display name", `name = "Web front"`, "", "", func(j *api.Job) bool { return j.ID == "j" && j.Name == "Web front" }, ""},
		{"uuidv4 and timestamp are read anew each time", "", "", `env {
        ID = uuidv4()
        AT = timestamp()
      }`, func(j *api.Job) bool {
			env := j.Groups[0].Tasks[0].Env
			return len(env["ID"]) == 36 && env["ID"][14] == '4' && strings.HasSuffix(env["AT"], "Z")
		}, ""},
		{"a vault block is kept with a located warning", "", "", `vault {
        policies = ["app"]
        change_mode = "signal"
        change_signal = "SIGHUP"
      }`, func(j *api.Job) bool {
			v := j.Groups[0].Tasks[0].Vault
			return v.Policies[0] == "app" && v.ChangeSignal == "SIGHUP"
		}, `7:1: group "g" task "t": Vault is not integrated`},
		{"a group's vault block applies to its tasks", "", `vault {
      policies = ["g"]
    }`, "", func(j *api.Job) bool { return j.Groups[0].Tasks[0].Vault.Policies[0] == "g" }, "Vault is not integrated"},
		{"consul-provider services go to the built-in catalog with a warning", "", `network {
      port "http" {}
    }
    service {
      name = "web"
      port = "http"
      provider = "consul"
    }`, "", func(j *api.Job) bool { return j.Groups[0].Services[0].Provider == "consul" }, `10:18: group "g": service "web" is registered in nomadic's built-in catalog: Consul is not used`},
		{"check fields real jobs use", "", `network {
      port "http" {}
    }
    service {
      port = "http"
      check {
        type = "http"
        path = "/"
        interval = "10s"
        timeout = "2s"
        initial_status = "passing"
        address_mode = "host"
        success_before_passing = 2
        on_update = "ignore_warnings"
        expose = true
        header {
          Authorization = ["Basic x"]
        }
        check_restart {
          limit = 3
          grace = "90s"
        }
      }
    }`, "", func(j *api.Job) bool {
			c := j.Groups[0].Services[0].Checks[0]
			return c.InitialStatus == "passing" && c.AddressMode == "host" && c.SuccessBeforePassing == 2 && c.OnUpdate == "ignore_warnings" &&
				c.Expose && c.Header["Authorization"][0] == "Basic x" && c.CheckRestart.Limit == 3 && c.CheckRestart.Grace == dur("90s")
		}, "expose is a Consul Connect setting and is ignored"},
		{"template uid, gid, wait and volume_mount selinux_label", "", `volume "data" {
      type = "host"
      source = "data"
    }`, `template {
        data = "x"
        destination = "local/x"
        uid = 472
        gid = 0
        wait {
          min = "2s"
          max = "10s"
        }
      }
      volume_mount {
        volume = "data"
        destination = "/data"
        selinux_label = "Z"
      }`, func(j *api.Job) bool {
			tk := j.Groups[0].Tasks[0]
			tp := tk.Templates[0]
			return *tp.UID == 472 && *tp.GID == 0 && tp.Wait.Max == dur("10s") && tk.VolumeMounts[0].SELinuxLabel == "Z"
		}, ""},
		{"identity and action blocks are kept", "", "", `identity {
        env = true
        aud = ["x"]
      }
      identity {
        name = "vault_default"
        aud  = ["vault.io"]
      }
      action "flush" {
        command = "/bin/flush"
        args = ["-a"]
      }`, func(j *api.Job) bool {
			tk := j.Groups[0].Tasks[0]
			return tk.DefaultIdentity().Env && tk.Identities[1].Name == "vault_default" && tk.Actions[0].Name == "flush" && tk.Actions[0].Args[0] == "-a"
		}, `identity "vault_default" is kept but not issued`},
		{"max_run_duration and a task's own restart block", `type = "batch"`, "", `max_run_duration = "1h"
      restart {
        attempts = 1
        mode = "fail"
      }`, func(j *api.Job) bool {
			tk := j.Groups[0].Tasks[0]
			return tk.MaxRunDuration == dur("1h") && tk.Restart.Attempts == 1
		}, ""},
		{"max_run_duration in a service job is ignored, with a warning", "", "", `max_run_duration = "1h"`, func(j *api.Job) bool {
			return j.Groups[0].Tasks[0].MaxRunDuration == dur("1h")
		}, "max_run_duration bounds the tasks of batch and sysbatch jobs: it is ignored in a service job"},
		{"tagged_addresses as a block, as Nomad writes it, or as a map", "", `network {
      port "http" {}
    }
    service {
      port = "http"
      tagged_addresses {
        public_wan = "1.2.3.4"
      }
    }
    service {
      name = "b"
      port = "http"
      tagged_addresses = {
        lan = "10.0.0.1"
      }
    }`, "", func(j *api.Job) bool {
			ss := j.Groups[0].Services
			return ss[0].TaggedAddresses["public_wan"] == "1.2.3.4" && ss[1].TaggedAddresses["lan"] == "10.0.0.1"
		}, ""},
		{"a task's restart block is its group's with what it sets", "", `restart {
      attempts = 5
      delay = "3s"
      mode = "delay"
    }`, `restart {
        attempts = 1
      }`, func(j *api.Job) bool {
			r := j.Groups[0].Tasks[0].Restart
			return r.Attempts == 1 && r.Delay == dur("3s") && r.Mode == "delay" && j.Groups[0].Restart.Attempts == 5
		}, ""},
		{"a task's restart block without a group's takes the job type's default", `type = "batch"`, "", `restart {
        delay = "1s"
      }`, func(j *api.Job) bool {
			r := j.Groups[0].Tasks[0].Restart
			return r.Attempts == 3 && r.Delay == dur("1s") && r.Mode == "fail" && r.Interval == dur("24h")
		}, ""},
		{"a network inside resources moves to the group, with a deprecation warning", "", "", `resources {
        cpu = 100
        memory = 64
        disk = 200
        network {
          mbits = 10
          port "web" {
            static = 8080
          }
        }
      }`, func(j *api.Job) bool {
			n := j.Groups[0].Network
			return n.MBits == 10 && n.Ports[0].Label == "web" && n.Ports[0].Static == 8080 && j.Groups[0].Tasks[0].Resources.DiskMB == 200
		}, "11:9: a network block inside resources is deprecated"},
		{"device requests are kept with a warning", "", "", `resources {
        device "nvidia/gpu" {
          count = 2
        }
      }`, func(j *api.Job) bool { return j.Groups[0].Tasks[0].Resources.Devices[0].Count == 2 }, "is accepted but not placed"},
		{"the ui block and node_pool", `node_pool = "gpu"
  ui {
    description = "web shop"
    link {
      label = "docs"
      url = "https://example.com"
    }
  }`, "", "", func(j *api.Job) bool {
			return j.NodePool == "gpu" && j.UI.Description == "web shop" && j.UI.Links[0].URL == "https://example.com"
		}, ""},
		{"bare references to runtime names are kept as interpolations, as Nomad reads them", "", "", `constraint {
        attribute = meta.rack
        value     = "r1"
      }
      env {
        ARCH = attr.cpu.arch
        PORT = NOMAD_PORT_http
        DC   = node.datacenter
        KEY  = meta["my-key"]
      }
      config {
        args = ["--replicaof", meta.replica, NOMAD_PORT_redis]
      }`, func(j *api.Job) bool {
			tk := j.Groups[0].Tasks[0]
			args := tk.Config["args"].([]any)
			return tk.Constraints[0].Attribute == "${meta.rack}" && tk.Env["ARCH"] == "${attr.cpu.arch}" &&
				tk.Env["PORT"] == "${NOMAD_PORT_http}" && tk.Env["DC"] == "${node.datacenter}" && tk.Env["KEY"] == `${meta["my-key"]}` &&
				args[1] == "${meta.replica}" && args[2] == "${NOMAD_PORT_redis}"
		}, ""},
		{"quoted argument names in blocks keep their names", "", "", `config {
        labels {
          "com.example.team" = "web"
        }
        "dotted.key" = "v"
      }
      env {
        "A.B" = "c"
      }`, func(j *api.Job) bool {
			tk := j.Groups[0].Tasks[0]
			labels := tk.Config["labels"].([]any)[0].(map[string]any)
			return labels["com.example.team"] == "web" && tk.Config["dotted.key"] == "v" && tk.Env["A.B"] == "c"
		}, ""},
		{"Nomad's functions", "", "", `env {
        B64 = base64encode("user:pass")
        PLAIN = base64decode("aGk=")
        YAML = yamlencode({a = 1})
        FROM_YAML = yamldecode("x: 2").x
        SHA = sha256("a")
        ID = uuidv5("dns", "example.com")
        UP = tostring(3)
        S = startswith("nomad", "no") ? "yes" : "no"
      }`, func(j *api.Job) bool {
			e := j.Groups[0].Tasks[0].Env
			return e["B64"] == "dXNlcjpwYXNz" && e["PLAIN"] == "hi" && e["YAML"] == "a: 1\n" && e["FROM_YAML"] == "2" &&
				e["SHA"] == "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb" && e["ID"] == "cfbff0d1-9375-5685-968c-48ce8b15ae17" &&
				e["UP"] == "3" && e["S"] == "yes"
		}, ""},
		{"Nomad's other operator spellings", `constraint {
    attribute = "${attr.kernel.name}"
    operator = "=="
    value = "linux"
  }
  constraint {
    attribute = "${attr.cpu.arch}"
    operator = "not"
    value = "arm64"
  }`, "", "", func(j *api.Job) bool {
			return j.Constraints[0].Operator == "=" && j.Constraints[1].Operator == "!="
		}, ""},
		{"a Connect-native service is a plain service", "", `service {
      name = "api"
      connect {
        native = true
      }
    }`, "", func(j *api.Job) bool { return j.Groups[0].Services[0].Connect.Native }, "Connect-native"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := wrap(tc.job, tc.group, tc.task)
			j := mustParse(t, src)
			if !tc.check(j) {
				t.Fatalf("unexpected job from:\n%s", src)
			}
			if tc.warning != "" && !strings.Contains(strings.Join(j.Warnings(), "\n"), tc.warning) {
				t.Fatalf("warnings lack %q:\n%s", tc.warning, strings.Join(j.Warnings(), "\n"))
			}
		})
	}
}

func TestWhatNomadicCannotRunIsRefusedWhereItIsWritten(t *testing.T) {
	for _, tc := range []struct {
		name             string
		job, group, task string
		want             string
	}{
		{"scaling bounds the count", "", `count = 9
    scaling {
      min = 1
      max = 3
    }`, "", "4:9: count 9 is outside the scaling bounds 1 to 3"},
		{"a secret block", "", "", `secret "db" {
        provider = "nomad"
        path     = "db"
      }`, `7:1: the secret "db" block (Nomad's secret providers) is not supported`},
		{"a multiregion job", `multiregion {
    region "a" {}
  }`, "", "", "2:1: multiregion jobs are not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("f.hcl", []byte(wrap(tc.job, tc.group, tc.task)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRuntimeInterpolationIsLeftToTheTask(t *testing.T) {
	src := `variable "v" {
  default = "x"
}
locals {
  l = "y"
  list = [for n in ["a", "b"] : "${n}-${var.v}"]
}
job "j" {
  group "g" {
    task "t" {
      driver = "test"
      env {
        NODE   = "--nodeid=${NODE_ID}"
        META   = "${meta.rack}"
        NOMAD  = "${NOMAD_ALLOC_INDEX}"
        ENV    = "${env["HOME"]}"
        MIXED  = "${var.v}-${NOMAD_JOB_NAME}-${local.l}"
        UPSTR  = "${NOMAD_UPSTREAM_ADDR_count-api}"
        FOR    = join(",", local.list)
        FUNC   = "${upper(var.v)}"
        KEPT   = "$${var.v}"
      }
      template {
        destination = "local/x"
        data = <<EOH
{{ env "NOMAD_ADDR_http" }} ${attr.unique.hostname} ${var.v}
EOH
      }
    }
  }
}
`
	e := mustParse(t, src).Groups[0].Tasks[0]
	want := map[string]string{
		"NODE": "--nodeid=${NODE_ID}", "META": "${meta.rack}", "NOMAD": "${NOMAD_ALLOC_INDEX}", "ENV": `${env["HOME"]}`,
		"MIXED": "x-${NOMAD_JOB_NAME}-y", "UPSTR": "${NOMAD_UPSTREAM_ADDR_count-api}", "FOR": "a-x,b-x", "FUNC": "X", "KEPT": "${var.v}",
	}
	for k, v := range want {
		if e.Env[k] != v {
			t.Errorf("env %s = %q, want %q", k, e.Env[k], v)
		}
	}
	if got := e.Templates[0].Data; got != "{{ env \"NOMAD_ADDR_http\" }} ${attr.unique.hostname} x\n" {
		t.Errorf("template data %q", got)
	}
	// An undefined HCL variable is still an error, at its place.
	_, err := Parse("f.hcl", []byte(strings.Replace(src, "${var.v}-${NOMAD", "${var.nope}-${NOMAD", 1)))
	if err == nil || !strings.Contains(err.Error(), "f.hcl:17:") {
		t.Fatalf("undefined variable: %v", err)
	}
}

func TestTheVariablesBlockGivesDefaults(t *testing.T) {
	src := "variables {\n  image = \"redis:7\"\n  count = 2\n}\njob \"j\" {\n  group \"g\" {\n    count = var.count\n    task \"t\" {\n      driver = \"test\"\n      env {\n        IMAGE = var.image\n      }\n    }\n  }\n}\n"
	j, err := ParseWithOptions("f.hcl", []byte(src), &Options{Vars: map[string]string{"image": "redis:8"}})
	if err != nil {
		t.Fatal(err)
	}
	if j.Groups[0].Count != 2 || j.Groups[0].Tasks[0].Env["IMAGE"] != "redis:8" {
		t.Fatalf("count %d image %q", j.Groups[0].Count, j.Groups[0].Tasks[0].Env["IMAGE"])
	}
}

func TestFileReadsBesideTheJobFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.conf"), []byte("port = 80\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := "job \"j\" {\n  group \"g\" {\n    task \"t\" {\n      driver = \"test\"\n      template {\n        data = file(\"app.conf\")\n        destination = \"local/app.conf\"\n      }\n    }\n  }\n}\n"
	j, err := Parse(filepath.Join(dir, "job.hcl"), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if j.Groups[0].Tasks[0].Templates[0].Data != "port = 80\n" {
		t.Fatalf("data %q", j.Groups[0].Tasks[0].Templates[0].Data)
	}
	_, err = Parse(filepath.Join(dir, "job.hcl"), []byte(strings.Replace(src, "app.conf\")", "missing.conf\")", 1)))
	if err == nil || !strings.Contains(err.Error(), "job.hcl:6:16") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestDockerJobsAreCheckedAndWarnedAtTheirOptions(t *testing.T) {
	src := `job "j" {
  group "g" {
    network {
      mode = "host"
      port "db" {
        to = 6379
      }
    }
    task "redis" {
      driver = "docker"
      config {
        image   = "redis:7"
        ports   = ["db"]
        logging {
          type = "journald"
        }
        pid_mode = "host"
      }
    }
    task "bad" {
      driver = "podman"
      config {
        image = "x"
        colour = "red"
      }
    }
  }
}
`
	_, err := Parse("f.hcl", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "f.hcl:24:9: config.colour is not an option of the podman driver") {
		t.Fatalf("got %v", err)
	}
	j := mustParse(t, strings.Replace(src, "colour = \"red\"", "", 1))
	w := strings.Join(j.Warnings(), "\n")
	// An explicit host mode is Nomad's default: the docker task's mapped
	// port gets a bridge, as on Docker's default network.
	if j.Groups[0].Network.Mode != "bridge" {
		t.Errorf("mode %q", j.Groups[0].Network.Mode)
	}
	for _, want := range []string{`3:5: group "g": its docker tasks get a bridge network`, "14:9: group \"g\" task \"redis\": config.logging: a logging driver",
		`17:9: group "g" task "redis": config.pid_mode: pid_mode "host" runs only on nodes`} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}
}

func TestATaskOutsideAGroupGetsAGroupOfItsOwn(t *testing.T) {
	src := "job \"j\" {\n  task \"sleeper\" {\n    driver = \"test\"\n  }\n}\n"
	j := mustParse(t, src)
	if len(j.Groups) != 1 || j.Groups[0].Name != "sleeper" || j.Groups[0].Tasks[0].Name != "sleeper" || j.Groups[0].Count != 1 {
		t.Fatalf("groups %+v", j.Groups)
	}
	if w := j.Warnings(); len(w) != 1 || !strings.HasPrefix(w[0], "2:3: a task outside a group is deprecated") {
		t.Fatalf("warnings %q", w)
	}
}

func TestADockerGroupThatMapsPortsAndNamesNoModeGetsBridgeMode(t *testing.T) {
	src := `job "j" {
  group "g" {
    network {
      port "http" {
        to = 80
      }
    }
    task "web" {
      driver = "docker"
      config {
        image = "nginx"
        ports = ["http"]
      }
    }
  }
}
`
	j := mustParse(t, src)
	if j.Groups[0].Network.Mode != "bridge" {
		t.Fatalf("mode %q", j.Groups[0].Network.Mode)
	}
	if w := j.Warnings(); len(w) != 1 || !strings.HasPrefix(w[0], `3:5: group "g": its docker tasks get a bridge network, as on Docker's default network`) {
		t.Fatalf("warnings %q", w)
	}
	if m := mustParse(t, strings.Replace(src, "network {", "network {\n      mode = \"host\"", 1)).Groups[0].Network.Mode; m != "bridge" {
		t.Errorf("an explicit host mode (Nomad's default) got %q", m)
	}
	// A task on the node's network keeps the group on it, and its mapped
	// port is warned about.
	hostTask := mustParse(t, strings.Replace(src, `image = "nginx"`, `image = "nginx"`+"\n        network_mode = \"host\"", 1))
	if w := strings.Join(hostTask.Warnings(), "\n"); !strings.Contains(w, `port "http" maps to 80, but in host network mode`) {
		t.Errorf("warnings %q", w)
	}
	// The host's network, asked for, stays; so does a group without mapped ports.
	for _, edit := range []func(string) string{
		func(s string) string {
			return strings.Replace(s, `image = "nginx"`, `image = "nginx"`+"\n        network_mode = \"host\"", 1)
		},
		func(s string) string { return strings.Replace(s, "to = 80", "static = 80", 1) },
		func(s string) string { return strings.Replace(s, `driver = "docker"`, `driver = "test"`, 1) },
	} {
		if m := mustParse(t, edit(src)).Groups[0].Network.Mode; m != "host" {
			t.Errorf("mode %q for:\n%s", m, edit(src))
		}
	}
}

// Nested dynamic blocks see the iterators of the blocks around them, in
// free-form driver config too.
func TestNestedDynamicBlocksSeeOuterIterators(t *testing.T) {
	src := `locals {
  targets  = { "1" = "a", "2" = "b" }
  versions = { a = "redis:7", b = "redis:6" }
}
job "j" {
  dynamic "group" {
    for_each = local.targets
    labels   = ["g-${group.value}"]
    content {
      dynamic "task" {
        for_each = { redis = 6379 }
        labels   = ["${task.key}"]
        content {
          driver = "docker"
          config {
            image = local.versions[group.value]
            args  = ["--port", "${task.value}", "--name", "${group.value}-${task.key}"]
            dynamic "mount" {
              for_each = ["/a", "/b"]
              content {
                target = mount.value
                source = "${group.value}${mount.value}"
              }
            }
          }
        }
      }
    }
  }
}
`
	job, err := Parse("dyn.nomad.hcl", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(job.Groups) != 2 {
		t.Fatalf("groups %d", len(job.Groups))
	}
	for _, g := range job.Groups {
		v := strings.TrimPrefix(g.Name, "g-")
		cfg := g.Tasks[0].Config
		want := map[string]string{"a": "redis:7", "b": "redis:6"}[v]
		if cfg["image"] != want || cfg["args"].([]any)[3] != v+"-redis" {
			t.Errorf("group %s: config %v", g.Name, cfg)
		}
		mounts, _ := cfg["mount"].([]any)
		if len(mounts) != 2 || mounts[1].(map[string]any)["source"] != v+"/b" {
			t.Errorf("group %s: mounts %v", g.Name, cfg["mount"])
		}
	}
}

// Validating with placeholders gives variables without a value one of
// their type, with a warning; parsing for a submission does not.
func TestValidationGivesUnsetVariablesPlaceholders(t *testing.T) {
	src := []byte(`variable "image" { type = string }
variable "n" { type = number }
variable "dcs" { type = list(string) }
variable "cfg" { type = object({ port = number, name = string }) }
job "j" {
  datacenters = var.dcs
  group "g" {
    count = var.n
    task "t" {
      driver = "docker"
      config {
        image = var.image
        args  = ["--port", "${var.cfg.port}", var.cfg.name]
      }
    }
  }
}
`)
	if _, err := ParseWithOptions("v.nomad.hcl", src, nil); err == nil || !strings.Contains(err.Error(), `v.nomad.hcl:1:1: variable "image" has no value`) {
		t.Fatalf("without placeholders: %v", err)
	}
	job, err := ParseWithOptions("v.nomad.hcl", src, &Options{Placeholders: true})
	if err != nil {
		t.Fatal(err)
	}
	tk := job.Groups[0].Tasks[0]
	if tk.Config["image"] != "image" || job.Groups[0].Count != 1 || fmt.Sprint(tk.Config["args"].([]any)[1]) != "1" {
		t.Fatalf("placeholders: count %d, config %#v", job.Groups[0].Count, tk.Config)
	}
	if w := strings.Join(job.Warnings(), "\n"); strings.Count(w, "validated with a placeholder") != 4 {
		t.Fatalf("warnings:\n%s", w)
	}
}

// Two tasks of Nomad's old form, each with a port of the same label in its
// resources, share the group's port.
func TestTasksOldNetworksShareTheGroupsPort(t *testing.T) {
	task := func(name string) string {
		return `task "` + name + `" {
      driver = "docker"
      config { image = "x" }
      resources {
        network {
          port "http" {}
        }
      }
    }
`
	}
	src := "job \"j\" {\n  group \"g\" {\n    " + task("a") + "    " + task("b") + "  }\n}\n"
	job, err := Parse("old.nomad", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if n := job.Groups[0].Network; n == nil || len(n.Ports) != 1 || n.Ports[0].Label != "http" {
		t.Fatalf("network %+v", job.Groups[0].Network)
	}
	if w := strings.Join(job.Warnings(), "\n"); !strings.Contains(w, `port "http" is also in another task's resources: the tasks share the group's port "http"`) {
		t.Fatalf("warnings:\n%s", w)
	}
}

// Validating with placeholders reads a file() that is not there as "{}",
// with a warning; parsing for a submission fails at the call.
func TestValidationReadsMissingFilesAsEmpty(t *testing.T) {
	src := []byte(`job "j" {
  group "g" {
    task "t" {
      driver = "raw_exec"
      config { command = "/bin/true" }
      template {
        data        = file("templates/app.conf.tpl")
        destination = "local/app.conf"
      }
    }
  }
}
`)
	name := filepath.Join(t.TempDir(), "j.nomad.hcl")
	if _, err := ParseWithOptions(name, src, nil); err == nil || !strings.Contains(err.Error(), "j.nomad.hcl:7:23") {
		t.Fatalf("without placeholders: %v", err)
	}
	job, err := ParseWithOptions(name, src, &Options{Placeholders: true})
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(job.Warnings(), "\n"); !strings.Contains(w, `file "templates/app.conf.tpl" was not found: validated with a placeholder`) {
		t.Fatalf("warnings:\n%s", w)
	}
}

// Locals and variable validations may call every function, file() and
// pathexpand() included.
func TestLocalsCallFileFunctions(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "key.txt"), []byte("secret-key"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := []byte(`variable "key_path" {
  type    = string
  default = "key.txt"
  validation {
    condition     = fileexists(var.key_path)
    error_message = "no key"
  }
}
locals {
  key  = "${file("${pathexpand(var.key_path)}")}"
  name = basename(abspath(var.key_path))
}
job "j" {
  group "g" {
    task "t" {
      driver = "raw_exec"
      config { command = "/bin/true" }
      env {
        KEY  = local.key
        NAME = local.name
      }
    }
  }
}
`)
	job, err := Parse(filepath.Join(dir, "j.nomad.hcl"), src)
	if err != nil {
		t.Fatal(err)
	}
	if env := job.Groups[0].Tasks[0].Env; env["KEY"] != "secret-key" || env["NAME"] != "key.txt" {
		t.Fatalf("env %v", env)
	}
}

func TestNetworkFunctionsAndLengthOfAString(t *testing.T) {
	src := []byte(`variable "name" {
  type    = string
  default = "web"
  validation {
    condition     = length(var.name) > 0
    error_message = "a name is needed"
  }
}
job "j" {
  group "g" {
    task "t" {
      driver = "raw_exec"
      config { command = "/bin/true" }
      env {
        HOST    = cidrhost("10.12.112.0/20", 16)
        LAST    = cidrhost("10.12.112.0/20", -2)
        HOST6   = cidrhost("fd00:fd12:3456:7890::/56", 16)
        MASK    = cidrnetmask("172.16.0.0/12")
        SUBNET  = cidrsubnet("172.16.0.0/12", 4, 2)
        SUBNET6 = cidrsubnet("fd00:fd12:3456:7890::/56", 16, 162)
        SUBNETS = join(",", cidrsubnets("10.1.0.0/16", 4, 4, 8, 4))
        LEN     = length("héllo")
        LENLIST = length([1, 2, 3])
        LENOBJ  = length({a = 1, b = "x"})
      }
    }
  }
}
`)
	job, err := Parse("j.nomad.hcl", src)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"HOST": "10.12.112.16", "LAST": "10.12.127.254", "HOST6": "fd00:fd12:3456:7800::10",
		"MASK": "255.240.0.0", "SUBNET": "172.18.0.0/16", "SUBNET6": "fd00:fd12:3456:7800:a200::/72",
		"SUBNETS": "10.1.0.0/20,10.1.16.0/20,10.1.32.0/24,10.1.48.0/20",
		"LEN":     "5", "LENLIST": "3", "LENOBJ": "2",
	}
	env := job.Groups[0].Tasks[0].Env
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	for _, bad := range []string{`cidrhost("10.0.0.0/30", 4)`, `cidrsubnet("10.0.0.0/30", 4, 0)`, `cidrnetmask("fd00::/8")`, `cidrhost("nope", 1)`, `cidrsubnets("10.0.0.0/30", 1, 1, 1)`} {
		src := []byte("job \"j\" {\n  meta { x = " + bad + " }\n  group \"g\" {\n    task \"t\" {\n      driver = \"raw_exec\"\n      config { command = \"/bin/true\" }\n    }\n  }\n}\n")
		if _, err := Parse("j.nomad.hcl", src); err == nil || !strings.Contains(err.Error(), "j.nomad.hcl:2:") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

// An expression that cannot be evaluated is reported once, as what it is;
// what it leaves out is not reported again, and the placeholders of
// validation are named with the errors they may cause.
func TestEvaluationErrorsAreReportedWithoutTheirCascade(t *testing.T) {
	src := `job "p" {
  group "g" {
    task "t" {
      driver = "docker"
      config { image = var.image }
      template {
        data        = var.firewall_config
        destination = "local/x"
      }
    }
  }
}
`
	_, err := Parse("p.hcl", []byte(src))
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	for _, want := range []string{`p.hcl:5:27: Reference to undeclared input variable; no variable "image" is declared`, `p.hcl:7:26: Reference to undeclared input variable; no variable "firewall_config"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("lacks %q:\n%s", want, msg)
		}
	}
	for _, not := range []string{"is required by the docker driver", "needs data or source", "must be known"} {
		if strings.Contains(msg, not) {
			t.Errorf("reports the cascade %q:\n%s", not, msg)
		}
	}
	placeholders := `variable "config_file" { type = string }
locals { cfg = jsondecode(file(var.config_file)) }
job "p" {
  datacenters = local.cfg.datacenters
  group "g" {
    task "t" {
      driver = "raw_exec"
      config { command = "/bin/true" }
      template {
        data        = file("missing.tpl")
        destination = "local/x"
      }
    }
  }
}
`
	_, err = ParseWithOptions("p.hcl", []byte(placeholders), &Options{Placeholders: true})
	if err == nil {
		t.Fatal("accepted")
	}
	msg = err.Error()
	for _, want := range []string{`p.hcl:1:1: note: variable "config_file" has no value: validated with a placeholder`, `p.hcl:4:26: Unsupported attribute`} {
		if !strings.Contains(msg, want) {
			t.Errorf("lacks %q:\n%s", want, msg)
		}
	}
	// A missing file is named where the file() call is.
	j, err := ParseWithOptions("p.hcl", []byte(strings.Replace(placeholders, "local.cfg.datacenters", `["dc1"]`, 1)), &Options{Placeholders: true})
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(j.Warnings(), "\n"); !strings.Contains(w, `10:23: file "missing.tpl" was not found`) {
		t.Errorf("warnings:\n%s", w)
	}
}

// Nomad allocates the ports of a sidecar or gateway itself, and checks
// may name them; without a mesh such a label is not a port of the group.
func TestMeshPortLabelsAreNomadsOwn(t *testing.T) {
	src, err := os.ReadFile("testdata/mesh-gateway.nomad.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse("mesh.hcl", src); err != nil {
		t.Fatal(err)
	}
	plain := strings.Replace(string(src), "connect {\n        gateway {\n          mesh {}\n        }\n      }\n", "", 1)
	if _, err := Parse("mesh.hcl", []byte(plain)); err == nil || !strings.Contains(err.Error(), `port "connect-mesh-mesh-gateway-lan" is not defined`) {
		t.Fatalf("without the gateway: %v", err)
	}
}

func TestADockerPortLabelTheGroupDoesNotDeclareIsWarnedAbout(t *testing.T) {
	j := mustParse(t, "job \"p\" {\n  group \"g\" {\n    task \"t\" {\n      driver = \"docker\"\n      config {\n        image = \"mysql\"\n        ports = [\"db\"]\n      }\n    }\n  }\n}\n")
	if w := strings.Join(j.Warnings(), "\n"); !strings.Contains(w, `7:9: group "g" task "t": config.ports names "db", which the group's network block does not declare`) {
		t.Fatalf("warnings:\n%s", w)
	}
}

// Nomad refuses a Connect sidecar outside bridge mode: the proxy shares
// the allocation's network namespace.
func TestAConnectSidecarNeedsBridgeMode(t *testing.T) {
	src := `job "j" {
  group "g" {
    network {
      mode = "host"
    }
    service {
      name = "api"
      connect {
        sidecar_service {}
      }
    }
    task "t" {
      driver = "raw_exec"
      config { command = "/bin/true" }
    }
  }
}
`
	if _, err := Parse("j.hcl", []byte(src)); err == nil || !strings.Contains(err.Error(), `j.hcl:8:7: a Consul Connect sidecar needs the group's network in bridge mode, not "host"`) {
		t.Fatalf("host mode: %v", err)
	}
	noNet := strings.Replace(src, "    network {\n      mode = \"host\"\n    }\n", "", 1)
	if _, err := Parse("j.hcl", []byte(noNet)); err == nil || !strings.Contains(err.Error(), `needs the group's network block in bridge mode (group "g" has none)`) {
		t.Fatalf("no network: %v", err)
	}
	if _, err := Parse("j.hcl", []byte(strings.Replace(src, `mode = "host"`, `mode = "bridge"`, 1))); err != nil {
		t.Fatal(err)
	}
}

func TestFilesetFilebase64ConvertSetproductAndBase64gzip(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"conf/a.tpl", "conf/b.tpl", "conf/sub/c.tpl", "conf/readme.md"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	src := []byte(`locals {
  tpls = fileset("conf", "*.tpl")
  all  = fileset("conf", "**/*.tpl")
  none = fileset("nowhere", "*")
}
job "j" {
  group "g" {
    task "t" {
      driver = "raw_exec"
      config { command = "/bin/true" }
      dynamic "template" {
        for_each = local.all
        content {
          data        = file("conf/${template.value}")
          destination = "local/${template.value}"
        }
      }
      env {
        TPLS  = join(",", local.tpls)
        ALL   = join(",", local.all)
        NONE  = length(local.none)
        B64   = filebase64("conf/a.tpl")
        NUM   = convert(5, string)
        LIST  = join(",", convert(["a", 1], list(string)))
        PAIRS = length(setproduct(["a", "b"], [1, 2, 3]))
        GZ    = length(base64gzip("hello")) > 0
      }
    }
  }
}
`)
	job, err := Parse(filepath.Join(dir, "j.nomad.hcl"), src)
	if err != nil {
		t.Fatal(err)
	}
	task := job.Groups[0].Tasks[0]
	want := map[string]string{"TPLS": "a.tpl,b.tpl", "ALL": "a.tpl,b.tpl,sub/c.tpl", "NONE": "0", "B64": "eA==",
		"NUM": "5", "LIST": "a,1", "PAIRS": "6", "GZ": "true"}
	for k, v := range want {
		if task.Env[k] != v {
			t.Errorf("%s = %q, want %q", k, task.Env[k], v)
		}
	}
	if len(task.Templates) != 3 || task.Templates[2].Destination != "local/sub/c.tpl" {
		t.Fatalf("templates from fileset: %+v", task.Templates)
	}
	for _, bad := range []string{`fileset("conf", "[")`, `convert("x", number)`, `length(setproduct(range(3000), range(3000)))`} {
		src := []byte("job \"j\" {\n  meta { x = " + bad + " }\n  group \"g\" {\n    task \"t\" {\n      driver = \"raw_exec\"\n      config { command = \"/bin/true\" }\n    }\n  }\n}\n")
		if _, err := Parse(filepath.Join(dir, "j.nomad.hcl"), src); err == nil || !strings.Contains(err.Error(), "j.nomad.hcl:2:") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestGlobMatchIsNotExponentialInDoubleStars(t *testing.T) {
	deep := strings.Split(strings.Repeat("d/", 40)+"f.txt", "/")
	for _, c := range []struct {
		pattern string
		names   []string
		want    bool
	}{
		{"**/*.txt", []string{"f.txt"}, true},
		{"**/*.txt", []string{"a", "b", "f.txt"}, true},
		{"*.txt", []string{"a", "f.txt"}, false},
		{"a/**", []string{"a"}, true},
		{"a/**/b", []string{"a", "x", "y", "b"}, true},
		{"a/**/b", []string{"a", "x", "y", "c"}, false},
		{strings.Repeat("**/", 60) + "*.txt", deep, true},
		{strings.Repeat("**/x/", 30) + "*.txt", deep, false},
	} {
		if got := globMatch(strings.Split(c.pattern, "/"), c.names); got != c.want {
			t.Errorf("%.40s against %.40v: %v, want %v", c.pattern, c.names, got, c.want)
		}
	}
}

func TestAServerParsingAJobFileReadsNoFile(t *testing.T) {
	for _, call := range []string{`file("/etc/hostname")`, `filebase64("/etc/hostname")`, `join(",", fileset("/etc", "*"))`, `tostring(fileexists("/etc/hostname"))`, `abspath(".")`} {
		src := []byte("job \"j\" {\n  meta { x = " + call + " }\n  group \"g\" {\n    task \"t\" {\n      driver = \"raw_exec\"\n      config { command = \"/bin/true\" }\n    }\n  }\n}\n")
		_, err := ParseWithOptions("job.hcl", src, &Options{NoFiles: true})
		if err == nil || !strings.Contains(err.Error(), "job.hcl:2:") || !strings.Contains(err.Error(), "reads files") {
			t.Errorf("%s: %v", call, err)
		}
	}
	src := []byte("job \"j\" {\n  meta { x = basename(\"/a/b.txt\") }\n  group \"g\" {\n    task \"t\" {\n      driver = \"raw_exec\"\n      config { command = \"/bin/true\" }\n    }\n  }\n}\n")
	if job, err := ParseWithOptions("job.hcl", src, &Options{NoFiles: true}); err != nil || job.Meta["x"] != "b.txt" {
		t.Fatalf("basename: %v", err)
	}
}
