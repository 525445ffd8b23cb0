package jobspec

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/driver/catalog"
)

// wrap puts group-level HCL into a job with one task, and task-level HCL
// into that task.
func wrap(jobHCL, groupHCL, taskHCL string) string {
	return fmt.Sprintf(`job "j" {
%s
  group "g" {
%s
    task "t" {
      driver = "test"
%s
    }
  }
}
`, jobHCL, groupHCL, taskHCL)
}

func init() {
	// A driver that takes any config, so that grammar tests do not depend
	// on a real driver's options.
	catalog.Register("test", func(map[string]any) error { return nil })
}

func mustParse(t *testing.T, src string) *api.Job {
	t.Helper()
	job, err := Parse("f.hcl", []byte(src))
	if err != nil {
		t.Fatalf("parse failed:\n%v\nsource:\n%s", err, src)
	}
	return job
}

func dur(s string) api.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return api.Duration(d)
}

func TestEveryBlockAndFieldIsRead(t *testing.T) {
	cases := []struct {
		name             string
		job, group, task string
		check            func(j *api.Job) bool
	}{
		{"job header", `type = "batch"
  priority = 80
  namespace = "team-a"
  region = "eu"
  node_pool = "gpu"
  datacenters = ["eu-*", "us-1"]
  meta {
    owner = "me"
  }`, "", "", func(j *api.Job) bool {
			return j.Type == "batch" && j.Priority == 80 && j.Namespace == "team-a" && j.Region == "eu" && j.NodePool == "gpu" &&
				strings.Join(j.Datacenters, ",") == "eu-*,us-1" && j.Meta["owner"] == "me"
		}},
		{"meta as an attribute", `meta = { a = "1" }`, "", "", func(j *api.Job) bool { return j.Meta["a"] == "1" }},
		{"system job", `type = "system"`, "", "", func(j *api.Job) bool { return j.Type == api.JobTypeSystem }},
		{"sysbatch job", `type = "sysbatch"`, "", "", func(j *api.Job) bool { return j.Type == api.JobTypeSysbatch }},
		{"constraint with operator", `constraint {
    attribute = "${attr.os.name}"
    operator = "regexp"
    value = "^(ubuntu|debian)$"
  }`, "", "", func(j *api.Job) bool {
			c := j.Constraints[0]
			return c.Attribute == "${attr.os.name}" && c.Operator == "regexp" && c.Value == "^(ubuntu|debian)$"
		}},
		{"constraint short forms", `constraint {
    distinct_hosts = true
  }
  constraint {
    distinct_property = "${meta.rack}"
  }
  constraint {
    attribute = "${attr.kernel.version}"
    semver = ">= 5.0.0"
  }
  constraint {
    attribute = "${meta.tags}"
    set_contains = "a,b"
  }`, "", "", func(j *api.Job) bool {
			c := j.Constraints
			return len(c) == 4 && c[0].Operator == "distinct_hosts" && c[1].Operator == "distinct_property" && c[1].Attribute == "${meta.rack}" &&
				c[2].Operator == "semver" && c[2].Value == ">= 5.0.0" && c[3].Operator == "set_contains"
		}},
		{"is_set needs no value", `constraint {
    attribute = "${meta.ssd}"
    operator = "is_set"
  }`, "", "", func(j *api.Job) bool { return j.Constraints[0].Operator == "is_set" }},
		{"affinity", "", `affinity {
      attribute = "${node.class}"
      value = "fast"
      weight = -30
    }`, "", func(j *api.Job) bool {
			a := j.Groups[0].Affinities[0]
			return a.Weight == -30 && a.Operator == "=" && a.Value == "fast"
		}},
		{"spread with targets", "", `spread {
      attribute = "${node.datacenter}"
      weight = 70
      target "dc1" {
        percent = 25
      }
      target "dc2" {
        percent = 75
      }
    }`, "", func(j *api.Job) bool {
			s := j.Groups[0].Spreads[0]
			return s.Weight == 70 && len(s.Targets) == 2 && s.Targets[1].Value == "dc2" && s.Targets[1].Percent == 75
		}},
		{"update inherited by the group", `update {
    max_parallel = 2
    canary = 1
    auto_promote = true
    min_healthy_time = "5s"
    health_check = "task_states"
    stagger = "15s"
  }`, "", "", func(j *api.Job) bool {
			u := j.Groups[0].Update
			return u != nil && u.MaxParallel == 2 && u.Canary == 1 && u.AutoPromote && u.MinHealthyTime == dur("5s") &&
				u.HealthyDeadline == dur("5m") && u.HealthCheck == "task_states" && u.Stagger == dur("15s")
		}},
		{"migrate", "", `migrate {
      max_parallel = 3
      health_check = "task_states"
      min_healthy_time = "1s"
      healthy_deadline = "2m"
    }`, "", func(j *api.Job) bool {
			m := j.Groups[0].Migrate
			return m.MaxParallel == 3 && m.HealthCheck == "task_states" && m.HealthyDeadline == dur("2m")
		}},
		{"reschedule", "", `reschedule {
      attempts = 5
      interval = "1h"
      delay = "10s"
      delay_function = "fibonacci"
      max_delay = "10m"
      unlimited = false
    }`, "", func(j *api.Job) bool {
			r := j.Groups[0].Reschedule
			return r.Attempts == 5 && r.Interval == dur("1h") && r.DelayFunction == "fibonacci" && r.MaxDelay == dur("10m") && !r.Unlimited
		}},
		{"restart", "", `restart {
      attempts = 4
      interval = "10m"
      delay = "20s"
      mode = "delay"
    }`, "", func(j *api.Job) bool {
			r := j.Groups[0].Restart
			return r.Attempts == 4 && r.Interval == dur("10m") && r.Delay == dur("20s") && r.Mode == "delay"
		}},
		{"periodic with one cron", `type = "batch"
  periodic {
    cron = "@daily"
    prohibit_overlap = true
    time_zone = "America/New_York"
  }`, "", "", func(j *api.Job) bool {
			p := j.Periodic
			return p.Crons[0] == "@daily" && p.ProhibitOverlap && p.TimeZone == "America/New_York" && p.Enabled
		}},
		{"parameterized", `type = "batch"
  parameterized {
    payload = "optional"
    meta_required = ["a"]
    meta_optional = ["b"]
  }`, "", "", func(j *api.Job) bool {
			p := j.Parameterized
			return p.Payload == "optional" && p.MetaRequired[0] == "a" && p.MetaOptional[0] == "b"
		}},
		{"network with static, dynamic and mapped ports", "", `network {
      mode = "bridge"
      port "http" {
        static = 8080
        to = 80
      }
      port "grpc" {}
      port "admin" {
        host_network = "private"
      }
    }`, "", func(j *api.Job) bool {
			n := j.Groups[0].Network
			return n.Mode == "bridge" && len(n.Ports) == 3 && n.Ports[0].Static == 8080 && n.Ports[0].To == 80 && n.Ports[1].Label == "grpc" &&
				n.Ports[2].HostNetwork == "private"
		}},
		{"group service with checks", "", `network {
      port "http" {}
    }
    service {
      name = "api"
      port = "http"
      tags = ["a"]
      provider = "nomad"
      address_mode = "host"
      meta {
        version = "2"
      }
      check {
        type = "http"
        path = "/health"
        interval = "5s"
        timeout = "1s"
        expected_status = 204
      }
      check {
        type = "tcp"
        interval = "10s"
        timeout = "2s"
      }
      check {
        type = "script"
        command = "/bin/check"
        args = ["-q"]
        task = "t"
        interval = "30s"
        timeout = "5s"
      }
    }`, "", func(j *api.Job) bool {
			s := j.Groups[0].Services[0]
			return s.Name == "api" && s.Port == "http" && s.AddressMode == "host" && s.Meta["version"] == "2" && len(s.Checks) == 3 &&
				s.Checks[0].ExpectedStatus == 204 && s.Checks[0].Method == "GET" && s.Checks[2].Task == "t"
		}},
		{"task service gets a default name and the task", "", `network {
      port "http" {}
    }`, `service {
        port = "http"
        provider = "nomadic"
      }`, func(j *api.Job) bool {
			s := j.Groups[0].Tasks[0].Services[0]
			return s.Name == "j-g-t" && s.TaskName == "t" && s.Provider == "nomad"
		}},
		{"ephemeral disk", "", `ephemeral_disk {
      size = 1024
      migrate = true
      sticky = true
    }`, "", func(j *api.Job) bool {
			e := j.Groups[0].EphemeralDisk
			return e.SizeMB == 1024 && e.Migrate && e.Sticky
		}},
		{"host volume mounted in the task", "", `volume "data" {
      type = "host"
      source = "shared-data"
      read_only = true
    }`, `volume_mount {
        volume = "data"
        destination = "/data"
      }`, func(j *api.Job) bool {
			v := j.Groups[0].Volumes["data"]
			return v.Source == "shared-data" && v.ReadOnly && j.Groups[0].Tasks[0].VolumeMounts[0].Destination == "/data"
		}},
		{"disconnect and max_client_disconnect", "", `disconnect {
      lost_after = "1h"
      replace = false
      reconcile = "keep_original"
    }
    max_client_disconnect = "2h"`, "", func(j *api.Job) bool {
			g := j.Groups[0]
			return g.Disconnect.LostAfter == dur("1h") && g.Disconnect.Replace != nil && !*g.Disconnect.Replace &&
				g.Disconnect.Reconcile == "keep_original" && *g.MaxClientDisconnect == dur("2h")
		}},
		{"task details", "", "", `user = "nobody"
      leader = true
      kill_timeout = "30s"
      kill_signal = "SIGINT"
      shutdown_delay = "5s"
      lifecycle {
        hook = "prestart"
        sidecar = true
      }
      logs {
        max_files = 3
        max_file_size = 15
      }
      resources {
        cores = 2
        memory = 512
        memory_max = 1024
      }
      meta {
        m = "1"
      }
      env {
        A = "1"
      }
      config {
        command = "x"
        port_map {
          http = 80
        }
        labels = { a = "b" }
        count = 3
      }`, func(j *api.Job) bool {
			t := j.Groups[0].Tasks[0]
			pm, _ := t.Config["port_map"].([]any)
			return t.User == "nobody" && t.Leader && t.KillTimeout == dur("30s") && t.KillSignal == "SIGINT" && t.ShutdownDelay == dur("5s") &&
				t.Lifecycle.Hook == "prestart" && t.Lifecycle.Sidecar && t.Logs.MaxFiles == 3 && t.Resources.Cores == 2 && t.Resources.CPU == 0 &&
				t.Resources.MemoryMax == 1024 && t.Meta["m"] == "1" && t.Env["A"] == "1" && len(pm) == 1 && t.Config["count"] == float64(3)
		}},
		{"artifact and template are read", "", "", `artifact {
        source = "https://example.com/app.tgz"
        destination = "local/app"
        options {
          checksum = "sha256:abc"
        }
        headers {
          Authorization = "Bearer x"
        }
      }
      template {
        data = "port={{ env \"NOMAD_PORT_http\" }}"
        destination = "local/app.conf"
        change_mode = "signal"
        change_signal = "SIGHUP"
        uid = 1000
        gid = 1001
        error_on_missing_key = true
        wait {
          min = "1s"
          max = "4s"
        }
      }
      identity {
        env = true
        file = true
      }`, func(j *api.Job) bool {
			t := j.Groups[0].Tasks[0]
			tpl := t.Templates[0]
			return t.Artifacts[0].Options["checksum"] == "sha256:abc" && t.Artifacts[0].Headers["Authorization"] == "Bearer x" &&
				tpl.ChangeSignal == "SIGHUP" && *tpl.UID == 1000 && *tpl.GID == 1001 && tpl.ErrMissingKey &&
				tpl.Wait.Min.Std() == time.Second && tpl.Wait.Max.Std() == 4*time.Second &&
				t.DefaultIdentity().Env && t.DefaultIdentity().File && len(j.Warnings()) == 0
		}},
		{"runtime interpolations are kept for later", "", "", `env {
        PORT = "${NOMAD_PORT_http}"
        DC = "${node.datacenter}"
        RACK = "rack-${meta.rack}"
        LITERAL = "$${not_interpolated}"
      }
      config {
        command = "x"
        args = ["${attr.unique.hostname}", "${NOMAD_ALLOC_INDEX}"]
      }`, func(j *api.Job) bool {
			t := j.Groups[0].Tasks[0]
			args := t.Config["args"].([]any)
			return t.Env["PORT"] == "${NOMAD_PORT_http}" && t.Env["DC"] == "${node.datacenter}" && t.Env["RACK"] == "rack-${meta.rack}" &&
				t.Env["LITERAL"] == "${not_interpolated}" && args[0] == "${attr.unique.hostname}" && args[1] == "${NOMAD_ALLOC_INDEX}"
		}},
		{"defaults per job type", `type = "batch"`, "", "", func(j *api.Job) bool {
			g := j.Groups[0]
			return g.Restart.Attempts == 3 && g.Restart.Interval == dur("24h") && g.Reschedule.Attempts == 1 &&
				g.Reschedule.DelayFunction == "constant" && g.Migrate == nil && g.EphemeralDisk.SizeMB == 300 &&
				g.Tasks[0].Resources.CPU == 100 && g.Tasks[0].Resources.MemoryMB == 300 && g.Tasks[0].Logs.MaxFiles == 10
		}},
		{"service defaults", "", "", "", func(j *api.Job) bool {
			g := j.Groups[0]
			return g.Restart.Attempts == 2 && g.Reschedule.Unlimited && g.Reschedule.DelayFunction == "exponential" &&
				g.Migrate.MaxParallel == 1 && j.NodePool == "default" && j.Datacenters[0] == "*"
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j := mustParse(t, wrap(tc.job, tc.group, tc.task))
			if !tc.check(j) {
				b, _ := json.MarshalIndent(j, "", "  ")
				t.Fatalf("unexpected job:\n%s", b)
			}
		})
	}
}

func TestInvalidFilesReportMessageAndLine(t *testing.T) {
	cases := []struct {
		name             string
		job, group, task string
		want             []string // "line:col: message part"
	}{
		{"unknown block", `colour {
  }`, "", "", []string{"2:1: Unsupported block type"}},
		{"unknown group field", "", `colour = "red"`, "", []string{"4:1: Unsupported argument"}},
		{"wrong type", `priority = "high"`, "", "", []string{"2:12: priority must be a whole number"}},
		{"priority out of range", `priority = 500`, "", "", []string{"2:12: priority must be between 1 and 100"}},
		{"bad constraint operator", `constraint {
    attribute = "a"
    operator = "~="
    value = "b"
  }`, "", "", []string{`4:16: constraint operator "~=" is not one of`}},
		{"constraint without value", `constraint {
    attribute = "${attr.x}"
  }`, "", "", []string{`2:1: constraint with operator "=" needs a value`}},
		{"regexp that does not compile", `constraint {
    attribute = "${attr.x}"
    regexp = "(["
  }`, "", "", []string{"2:1: regexp \"([\" does not compile"}},
		{"two operators in one constraint", `constraint {
    distinct_hosts = true
    operator = "="
  }`, "", "", []string{"2:1: a constraint has one operator"}},
		{"affinity weight zero", "", `affinity {
      attribute = "${node.class}"
      value = "x"
      weight = 0
    }`, "", []string{"7:16: affinity weight 0 must be between -100 and 100"}},
		{"spread targets over 100", "", `spread {
      attribute = "${node.datacenter}"
      target "a" {
        percent = 70
      }
      target "b" {
        percent = 40
      }
    }`, "", []string{"4:1: spread target percentages add up to 110"}},
		{"bad restart mode", "", `restart {
      mode = "sometimes"
    }`, "", []string{`5:14: restart mode "sometimes" is not one of fail, delay`}},
		{"bad delay function", "", `reschedule {
      delay_function = "linear"
    }`, "", []string{`5:24: delay_function "linear" is not one of constant, exponential, fibonacci`}},
		{"duration that does not parse", "", `restart {
      delay = "5 seconds"
    }`, "", []string{`5:15: delay "5 seconds" is not a duration`}},
		{"update deadlines out of order", `update {
    min_healthy_time = "10m"
    healthy_deadline = "5m"
  }`, "", "", []string{"3:24: min_healthy_time must be shorter than healthy_deadline"}},
		{"periodic service", `periodic {
    cron = "* * * * *"
  }`, "", "", []string{"2:1: periodic jobs must be of type batch or sysbatch"}},
		{"bad cron", `type = "batch"
  periodic {
    cron = "every day"
  }`, "", "", []string{`4:12: cron expression "every day" does not parse`}},
		{"unknown time zone", `type = "batch"
  periodic {
    cron = "@hourly"
    time_zone = "Mars/Olympus"
  }`, "", "", []string{`5:17: unknown time zone "Mars/Olympus"`}},
		{"bad network mode", "", `network {
      mode = "overlay"
    }`, "", []string{`5:14: network mode "overlay" is not one of host, bridge, none or cni/<name>`}},
		{"static port out of range", "", `network {
      port "http" {
        static = 70000
      }
    }`, "", []string{"6:18: static port 70000 must be between 1 and 65535"}},
		{"duplicate port label", "", `network {
      port "http" {}
      port "http" {}
    }`, "", []string{`6:12: port "http" is defined twice`}},
		{"service on an undefined port", "", `service {
      port = "http"
    }`, "", []string{`5:14: port "http" is not defined in the group's network block`}},
		{"unknown service provider", "", `network {
      port "http" {}
    }
    service {
      port = "http"
      provider = "etcd"
    }`, "", []string{`9:18: service provider "etcd" is not supported`}},
		{"http check without path", "", `network {
      port "http" {}
    }
    service {
      port = "http"
      check {
        type = "http"
        interval = "5s"
        timeout = "1s"
      }
    }`, "", []string{"9:7: an http check needs a path"}},
		{"check without interval", "", `network {
      port "http" {}
    }
    service {
      port = "http"
      check {
        type = "tcp"
        timeout = "1s"
      }
    }`, "", []string{"9:7: check interval must be positive"}},
		{"bad lifecycle hook", "", "", `lifecycle {
        hook = "prerun"
      }`, []string{`8:16: lifecycle hook "prerun" is not one of prestart, poststart, poststop`}},
		{"zero memory", "", "", `resources {
        memory = 0
      }`, []string{"8:18: memory must be a positive number"}},
		{"cpu and cores", "", "", `resources {
        cpu = 100
        cores = 1
      }`, []string{"9:17: cpu and cores cannot both be set"}},
		{"memory_max below memory", "", "", `resources {
        memory = 512
        memory_max = 256
      }`, []string{"9:22: memory_max 256 must not be below memory 512"}},
		{"volume mount of an undefined volume", "", "", `volume_mount {
        volume = "nope"
        destination = "/x"
      }`, []string{`7:1: volume_mount refers to volume "nope"`}},
		{"an unknown volume type", "", `volume "v" {
      type = "nfs"
      source = "x"
    }`, "", []string{`5:14: volume type "nfs" is not supported`}},
		{"template without data", "", "", `template {
        destination = "x"
      }`, []string{"7:1: a template needs data or source"}},
		{"two leaders are fine alone but not two", "", "", `leader = true`, nil},
		{"undefined variable", "", `count = var.nope`, "", []string{`4:12: Reference to undeclared input variable; no variable "nope" is declared`}},
		{"unknown function", "", `count = nope(1)`, "", []string{"4:9: Call to unknown function"}},
		{"several errors at once", `priority = 0`, `count = -3`, `kill_timeout = "x"`, []string{
			"2:12: priority must be between 1 and 100", "4:9: count -3 must not be negative", `7:16: kill_timeout "x" is not a duration`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := wrap(tc.job, tc.group, tc.task)
			_, err := Parse("f.hcl", []byte(src))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("parsed without error:\n%s", src)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), "f.hcl:"+w) {
					t.Errorf("error lacks %q:\n%v\nsource:\n%s", "f.hcl:"+w, err, numbered(src))
				}
			}
		})
	}
}

func numbered(src string) string {
	var b strings.Builder
	for i, l := range strings.Split(src, "\n") {
		fmt.Fprintf(&b, "%3d %s\n", i+1, l)
	}
	return b.String()
}

func TestVariablesTakeValuesFromFlagsFilesAndEnvironment(t *testing.T) {
	src := `variable "count" {
  type = number
  default = 1
}
variable "dc" {
  type = string
}
variable "tags" {
  type = list(string)
  default = []
}
variable "env" {
  type = string
  default = "dev"
}
locals {
  base = "svc-${var.dc}"
  full = "${local.base}-${length(var.tags)}"
}
job "j" {
  datacenters = [var.dc]
  meta {
    name = local.full
    env = var.env
  }
  group "g" {
    count = var.count
    task "t" {
      driver = "test"
    }
  }
}
`
	opts := &Options{
		Vars:     map[string]string{"count": "4", "tags": `["a", "b"]`},
		VarFiles: map[string][]byte{"prod.hcl": []byte("dc = \"eu-1\"\nenv = \"staging\"\n")},
		Env:      []string{"NOMAD_VAR_env=prod", "NOMAD_VAR_dc=ignored-file-wins"},
	}
	job, err := ParseWithOptions("f.hcl", []byte(src), opts)
	if err != nil {
		t.Fatal(err)
	}
	if job.Groups[0].Count != 4 || job.Datacenters[0] != "eu-1" || job.Meta["name"] != "svc-eu-1-2" || job.Meta["env"] != "staging" {
		t.Fatalf("job: count %d dcs %v meta %v", job.Groups[0].Count, job.Datacenters, job.Meta)
	}

	// Without a value for dc the file is refused at the variable.
	_, err = ParseWithOptions("f.hcl", []byte(src), nil)
	if err == nil || !strings.Contains(err.Error(), `f.hcl:5:1: variable "dc" has no value`) {
		t.Fatalf("missing variable: %v", err)
	}
	// A value of the wrong type.
	_, err = ParseWithOptions("f.hcl", []byte(src), &Options{Vars: map[string]string{"dc": "x", "count": "many"}})
	if err == nil || !strings.Contains(err.Error(), "count") {
		t.Fatalf("wrong type: %v", err)
	}
	// An undeclared -var.
	_, err = ParseWithOptions("f.hcl", []byte(src), &Options{Vars: map[string]string{"dc": "x", "nope": "1"}})
	if err == nil || !strings.Contains(err.Error(), `no variable "nope" is declared`) {
		t.Fatalf("undeclared var: %v", err)
	}
}

func TestVariableValidationRules(t *testing.T) {
	src := `variable "n" {
  type = number
  default = 0
  validation {
    condition = var.n > 0
    error_message = "n must be positive"
  }
}
job "j" {
  group "g" {
    count = var.n
    task "t" {
      driver = "test"
    }
  }
}
`
	_, err := Parse("f.hcl", []byte(src))
	if err == nil || !strings.Contains(err.Error(), `f.hcl:5:17: invalid value for variable "n": n must be positive`) {
		t.Fatalf("validation: %v", err)
	}
	if _, err := ParseWithOptions("f.hcl", []byte(src), &Options{Vars: map[string]string{"n": "2"}}); err != nil {
		t.Fatal(err)
	}
}

func TestLocalsThatReferToThemselvesAreRefused(t *testing.T) {
	src := "locals {\n  a = local.b\n  b = local.a\n}\njob \"j\" {\n  group \"g\" {\n    task \"t\" {\n      driver = \"x\"\n    }\n  }\n}\n"
	_, err := Parse("f.hcl", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "refers to itself") {
		t.Fatalf("cycle: %v", err)
	}
}

func TestDynamicBlocksExpand(t *testing.T) {
	src := `job "j" {
  group "g" {
    dynamic "constraint" {
      for_each = ["a", "b", "c"]
      content {
        attribute = "${meta.zone}"
        operator  = "!="
        value     = constraint.value
      }
    }
    task "t" {
      driver = "test"
    }
  }
}
`
	j := mustParse(t, src)
	cs := j.Groups[0].Constraints
	if len(cs) != 3 || cs[2].Value != "c" || cs[0].Attribute != "${meta.zone}" {
		t.Fatalf("constraints: %+v", cs)
	}
}

func TestPositionsAfterEscapedInterpolationsStayRight(t *testing.T) {
	// Each ${NOMAD_...} on line 7 is escaped internally; the error after
	// them must still point at the right column.
	src := wrap("", "", `env {
        A = "${NOMAD_PORT_a}${NOMAD_PORT_b}${upper(1, 2)}"
      }
      kill_timeout = "${NOMAD_X}"`)
	_, err := Parse("f.hcl", []byte(src))
	if err == nil || !strings.Contains(err.Error(), `f.hcl:10:22: kill_timeout "${NOMAD_X}" is not a duration`) ||
		!strings.Contains(err.Error(), `f.hcl:8:55: Too many function arguments`) {
		t.Fatalf("position: %v\n%s", err, numbered(src))
	}
}

func TestNomadJSONJobsAreAccepted(t *testing.T) {
	src := `{"Job": {"ID": "n", "Type": "batch", "Status": "dead", "Vault": null,
  "TaskGroups": [{"Name": "g", "Count": 3, "Tasks": [{"Name": "t", "Driver": "test",
    "Config": {"command": "true", "SomeKey": 1}, "Resources": {"CPU": 50, "MemoryMB": 64}, "KillTimeout": 3000000000}]}]}}`
	j, err := Parse("job.json", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	task := j.Groups[0].Tasks[0]
	if j.Type != "batch" || j.Groups[0].Count != 3 || task.Config["SomeKey"] != float64(1) || task.Resources.MemoryMB != 64 || task.KillTimeout != dur("3s") {
		t.Fatalf("job: %+v task %+v", j, task)
	}
	_, err = Parse("job.json", []byte(`{"Job": {"ID": "n", "Multiregion": {"Strategy": {"MaxParallel": 1}}, "TaskGroups": []}}`))
	if err == nil || !strings.Contains(err.Error(), `unknown field "multiregion"`) {
		t.Fatalf("unsupported Nomad field: %v", err)
	}
	// A job's Vault block reaches its tasks; the default identity and
	// Consul block Nomad spells out are dropped; scaling keeps its bounds.
	j, err = Parse("job.json", []byte(`{"Job": {"ID": "n", "Vault": {"Policies": ["x"], "Env": true},
  "TaskGroups": [{"Name": "g", "Count": 2, "Scaling": {"ID": "abc", "Type": "horizontal", "Min": 1, "Max": 4, "Enabled": true, "Target": {"Group": "g"}},
    "Tasks": [{"Name": "t", "Driver": "test", "Identity": {"Name": "default", "Audience": ["nomadproject.io"]}, "Consul": {"Cluster": "default"},
      "Identities": [{"Name": "vault_default", "Audience": ["vault.io"]}]}]}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	task = j.Groups[0].Tasks[0]
	if task.Vault == nil || task.Vault.Policies[0] != "x" || task.Consul != nil || len(task.Identities) != 1 || task.Identities[0].Audience[0] != "vault.io" ||
		j.Groups[0].Scaling.Max != 4 {
		t.Fatalf("task %+v scaling %+v", task, j.Groups[0].Scaling)
	}
}

func TestFunctionsCannotExhaustMemory(t *testing.T) {
	for _, expr := range []string{`length(range(1000000000))`, `length(format("%999999999d", 1))`, `length(format("%.99999999f", 1.5))`} {
		src := "job \"j\" {\n  group \"g\" {\n    count = " + expr + "\n    task \"t\" {\n      driver = \"test\"\n    }\n  }\n}\n"
		if _, err := Parse("f.hcl", []byte(src)); err == nil {
			t.Errorf("%s was evaluated", expr)
		}
	}
	j := mustParse(t, wrap("", "count = length(range(3))", `env {
        A = format("%04d", 7)
      }`))
	if j.Groups[0].Count != 3 || j.Groups[0].Tasks[0].Env["A"] != "0007" {
		t.Fatalf("bounded functions changed results: %d %q", j.Groups[0].Count, j.Groups[0].Tasks[0].Env["A"])
	}
}
