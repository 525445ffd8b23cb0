package jobspec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nomadic-project/nomadic/pkg/api"
)

func TestExampleParsesWithDefaults(t *testing.T) {
	job, err := Parse("example.hcl", []byte(Example))
	if err != nil {
		t.Fatal(err)
	}
	if job.ID != "example" || job.Type != api.JobTypeService || job.Namespace != "default" || job.Priority != 50 {
		t.Fatalf("job header: %+v", job)
	}
	g := job.Groups[0]
	if g.Name != "web" || g.Count != 2 || len(g.Tasks) != 1 {
		t.Fatalf("group: %+v", g)
	}
	task := g.Tasks[0]
	if task.Driver != "raw_exec" || task.Config["command"] != "/bin/sh" || task.Env["GREETING"] != "hello" {
		t.Fatalf("task: %+v", task)
	}
	if task.Resources.CPU != 100 || task.Resources.MemoryMB != 64 || task.KillTimeout != api.DefaultKillTimeout {
		t.Fatalf("resources: %+v, kill timeout %v", task.Resources, task.KillTimeout)
	}
}

func TestParseAcceptsJSONAndYAMLOfTheAPIForm(t *testing.T) {
	js := `{"job": {"id": "j", "groups": [{"name": "g", "count": 2, "tasks": [{"name": "t", "driver": "raw_exec", "config": {"command": "true"}}]}]}}`
	yml := "id: j\ngroups:\n- name: g\n  count: 2\n  tasks:\n  - name: t\n    driver: raw_exec\n    config:\n      command: \"true\"\n"
	for name, src := range map[string]string{"job.json": js, "job.yaml": yml, "-": js} {
		job, err := Parse(name, []byte(src))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if job.ID != "j" || job.Groups[0].Count != 2 || job.Groups[0].Tasks[0].Resources.CPU != api.DefaultCPU {
			t.Fatalf("%s: %+v", name, job)
		}
	}
}

func TestParseErrorsNameTheirPlace(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []string
	}{
		{"a negative count", "job \"j\" {\n  group \"g\" {\n    count = -1\n    task \"t\" {\n      driver = \"raw_exec\"\n    }\n  }\n}\n",
			[]string{"f.hcl:3:13: count -1 must not be negative"}},
		{"an unknown attribute", "job \"j\" {\n  group \"g\" {\n    task \"t\" {\n      driver = \"raw_exec\"\n      colour = 1\n    }\n  }\n}\n",
			[]string{"f.hcl:5:7: Unsupported argument"}},
		{"a task without driver", "job \"j\" {\n  group \"g\" {\n    task \"t\" {\n    }\n  }\n}\n",
			[]string{"f.hcl:3:5: Missing required argument; task \"t\" needs a driver"}},
		{"a template without anything is told each problem once", "job \"j\" {\n  group \"g\" {\n    task \"t\" {\n      driver = \"raw_exec\"\n      template {\n      }\n    }\n  }\n}\n",
			[]string{"f.hcl:5:7: a template needs data or source", "f.hcl:5:16: Missing required argument; The argument \"destination\" is required, but no definition was found."}},
		{"a group without task", "job \"j\" {\n  group \"g\" {\n  }\n}\n",
			[]string{"f.hcl:2:9: group \"g\" has no task"}},
		{"a bad kill_timeout and a zero memory at once", "job \"j\" {\n  group \"g\" {\n    task \"t\" {\n      driver = \"raw_exec\"\n      kill_timeout = \"soon\"\n      resources {\n        memory = 0\n      }\n    }\n  }\n}\n",
			[]string{"f.hcl:5:22: kill_timeout \"soon\" is not a duration", "f.hcl:7:18: memory must be a positive number"}},
		{"a duplicate group", "job \"j\" {\n  group \"g\" {\n    task \"t\" {\n      driver = \"x\"\n    }\n  }\n  group \"g\" {\n    task \"t\" {\n      driver = \"x\"\n    }\n  }\n}\n",
			[]string{"f.hcl:7:9: group \"g\" is defined twice"}},
		{"a syntax error", "job \"j\" {\n  group \"g\" {\n", []string{"f.hcl:"}},
		{"no job", "# nothing\n", []string{"f.hcl:1:1: no job block in the file"}},
		{"an unknown job type", "job \"j\" {\n  type = \"weird\"\n  group \"g\" {\n    task \"t\" {\n      driver = \"x\"\n    }\n  }\n}\n",
			[]string{"f.hcl:2:10: job type \"weird\" is not one of service, batch, system, sysbatch"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("f.hcl", []byte(tc.src))
			if err == nil {
				t.Fatal("parsed without error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestJSONErrorsNameTheirLine(t *testing.T) {
	_, err := Parse("j.json", []byte("{\"job\": {\n  \"id\": \"j\",\n  \"groups\": 5\n}}"))
	if err == nil || !strings.Contains(err.Error(), "j.json:3:") {
		t.Fatalf("want a located JSON error, got %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("example.hcl", Example)
	if files, err := filepath.Glob("../../examples/*"); err == nil {
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(filepath.Base(p), string(b))
			}
		}
	}
	f.Add("job.json", `{"job": {"id": "j", "groups": []}}`)
	f.Add("job.yaml", "id: j\n")
	f.Fuzz(func(t *testing.T, name, src string) {
		job, err := Parse(name, []byte(src))
		if err == nil && job == nil {
			t.Fatal("no job and no error")
		}
	})
}

func TestDriverConfigIsCheckedByTheDriverAtTheOption(t *testing.T) {
	src := "job \"j\" {\n  group \"g\" {\n    task \"t\" {\n      driver = \"raw_exec\"\n      config {\n        image = \"redis\"\n      }\n    }\n  }\n}\n"
	_, err := Parse("f.hcl", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "f.hcl:6:9: config.image is not an option of the raw_exec driver") {
		t.Fatalf("got %v", err)
	}
}

func TestAnUnknownDriverIsAcceptedWithALocatedWarning(t *testing.T) {
	src := "job \"j\" {\n  group \"g\" {\n    task \"u\" {\n      driver = \"dockerz\"\n    }\n  }\n}\n"
	job, err := Parse("f.hcl", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if w := job.Warnings(); len(w) != 1 || !strings.HasPrefix(w[0], `4:16: group "g" task "u": nomadic ships no "dockerz" driver`) {
		t.Fatalf("warnings %q", w)
	}
}

func TestFreeFormConfigBlocksKeepTheirLabels(t *testing.T) {
	src := `job "j" {
  group "g" {
    task "t" {
      driver = "somedriver"
      config {
        multi "a" "b" {
          k = 1
        }
        rep "l1" {
          a = 1
        }
        rep "l2" "l21" {
          a = 2
        }
        rep {
          a = 3
        }
      }
    }
  }
}`
	job, err := Parse("f.hcl", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	cfg := job.Groups[0].Tasks[0].Config
	multi := cfg["multi"].([]any)[0].(map[string]any)["a"].(map[string]any)["b"].(map[string]any)
	if multi["k"] != float64(1) {
		t.Fatalf("multi-labeled block: %#v", cfg["multi"])
	}
	rep := cfg["rep"].([]any)
	if len(rep) != 3 || rep[0].(map[string]any)["l1"].(map[string]any)["a"] != float64(1) ||
		rep[1].(map[string]any)["l2"].(map[string]any)["l21"].(map[string]any)["a"] != float64(2) || rep[2].(map[string]any)["a"] != float64(3) {
		t.Fatalf("a block type repeated with 1, 2 and no labels: %#v", rep)
	}
}

func TestAMissingArgumentIsReportedOnce(t *testing.T) {
	src := "job \"j\" {\n  group \"g\" {\n    task \"t\" {\n      template {\n        data = \"x\"\n      }\n    }\n  }\n}\n"
	_, err := Parse("f.hcl", []byte(src))
	if err == nil {
		t.Fatal("parsed without error")
	}
	msg := err.Error()
	if strings.Count(msg, "driver") != 1 || strings.Count(msg, "destination") != 1 {
		t.Fatalf("each missing argument once:\n%s", msg)
	}
}
