package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// promQuery runs an instant query against Prometheus' HTTP API and
// returns its result vector; a query Prometheus refuses fails the test.
func promQuery(t *testing.T, prom, expr string) []struct {
	Metric map[string]string `json:"metric"`
	Value  []any             `json:"value"`
} {
	t.Helper()
	resp, err := http.Get(prom + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		t.Fatalf("querying %s: %v", expr, err)
	}
	defer resp.Body.Close()
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("decoding the answer to %s: %v", expr, err)
	}
	if out.Status != "success" {
		t.Fatalf("Prometheus refused %s: %s", expr, out.Error)
	}
	var vec []struct {
		Metric map[string]string `json:"metric"`
		Value  []any             `json:"value"`
	}
	if out.Data.ResultType == "vector" {
		_ = json.Unmarshal(out.Data.Result, &vec)
	}
	return vec
}

// dashboardExprs returns every query of the Grafana dashboards, with
// Grafana's variables given values Prometheus takes.
func dashboardExprs(t *testing.T) map[string][]string {
	t.Helper()
	files, err := filepath.Glob("../deploy/grafana/dashboards/*.json")
	if err != nil || len(files) < 4 {
		t.Fatalf("dashboards: %v %v", files, err)
	}
	out := map[string][]string{}
	vars := strings.NewReplacer("$__rate_interval", "1m", "$__interval", "1m", "$instance", ".*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			UID    string `json:"uid"`
			Panels []struct {
				Title   string `json:"title"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s is not a dashboard: %v", f, err)
		}
		if d.UID == "" || len(d.Panels) == 0 {
			t.Fatalf("%s has no uid or no panel", f)
		}
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				out[filepath.Base(f)+": "+p.Title] = append(out[filepath.Base(f)+": "+p.Title], vars.Replace(tg.Expr))
			}
		}
	}
	return out
}

var metricName = regexp.MustCompile(`\bnomadic_[a-z_]+\b`)

// TestPrometheusScrapesADevAgent lets Debian's Prometheus scrape a dev
// agent's server and node agent with the alert rules of deploy/prometheus
// loaded, queries one of our series, and checks that the rules evaluate,
// that every query of the Grafana dashboards is valid PromQL, and that
// docs/metrics.md names every series the agent serves and the dashboards
// and rules use.
func TestPrometheusScrapesADevAgent(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("prometheus is not installed (make test installs Debian's prometheus): ", err)
	}
	clientAddr := freeAddr(t)
	addr, _, _ := devAgentWithNomadAPI(t, "-client-http-addr", clientAddr)

	dir := t.TempDir()
	rules, err := filepath.Abs("../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: nomadic-servers
    static_configs: [{targets: [%q]}]
  - job_name: nomadic-clients
    static_configs: [{targets: [%q]}]
`, rules, addr, clientAddr)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	promAddr := freeAddr(t)
	start(t, promBin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	prom := "http://" + promAddr

	// The leader's census counts the node as soon as it leads; Prometheus
	// scrapes every second.
	eventually(t, 60*time.Second, func() (bool, string) {
		resp, err := http.Get(prom + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false, resp.Status
		}
		v := promQuery(t, prom, `nomadic_cluster_nodes{job="nomadic-servers",status="ready"}`)
		return len(v) == 1 && v[0].Value[1] == "1", fmt.Sprintf("ready nodes: %v", v)
	})
	eventually(t, 30*time.Second, func() (bool, string) {
		v := promQuery(t, prom, `up`)
		up := 0
		for _, s := range v {
			if s.Value[1] == "1" {
				up++
			}
		}
		return up == 2, fmt.Sprintf("targets: %v", v)
	})

	// The rules loaded and evaluate without errors: every one of the file.
	src, err := os.ReadFile(rules)
	if err != nil {
		t.Fatal(err)
	}
	wantRules := strings.Count(string(src), "- alert:")
	eventually(t, 30*time.Second, func() (bool, string) {
		resp, err := http.Get(prom + "/api/v1/rules")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		var out struct {
			Data struct {
				Groups []struct {
					Rules []struct {
						Name           string `json:"name"`
						Health         string `json:"health"`
						LastError      string `json:"lastError"`
						LastEvaluation string `json:"lastEvaluation"`
					} `json:"rules"`
				} `json:"groups"`
			} `json:"data"`
		}
		b, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(b, &out); err != nil || len(out.Data.Groups) != 1 {
			return false, string(b)
		}
		for _, r := range out.Data.Groups[0].Rules {
			if r.Health != "ok" {
				return false, fmt.Sprintf("rule %s: %s %s", r.Name, r.Health, r.LastError)
			}
		}
		return len(out.Data.Groups[0].Rules) == wantRules, string(b)
	})

	// Every query of the dashboards parses and runs.
	used := map[string]bool{}
	for _, exprs := range dashboardExprs(t) {
		for _, e := range exprs {
			promQuery(t, prom, e)
			for _, m := range metricName.FindAllString(e, -1) {
				used[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_count"), "_sum")] = true
			}
		}
	}
	b, err := os.ReadFile(rules)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, m := range metricName.FindAllString(line, -1) {
			used[strings.TrimSuffix(m, "_count")] = true
		}
	}
	// What the agent serves, server and node agent alike.
	served := map[string]bool{}
	for _, target := range []string{addr, clientAddr} {
		resp, err := http.Get("http://" + target + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(body), "\n") {
			if name, ok := strings.CutPrefix(line, "# TYPE "); ok && strings.HasPrefix(name, "nomadic_") {
				served[strings.Fields(name)[0]] = true
			}
		}
	}
	if !served["nomadic_cluster_nodes"] || !served["nomadic_client_tasks"] {
		t.Fatalf("the agent serves %v", served)
	}
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for m := range served {
		used[m] = true
	}
	for m := range used {
		if !strings.Contains(string(doc), "`"+m+"`") {
			missing = append(missing, m)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("docs/metrics.md does not name %v", missing)
	}
}
