package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/nomadic-project/nomadic/pkg/api"
)

// uiJob is the job the browser test submits from the UI: two tasks that
// print a line every 300 ms, and a migrate block quick enough for a test.
const uiJob = `job "ticker" {
  migrate {
    max_parallel     = 2
    health_check     = "task_states"
    min_healthy_time = "1s"
    healthy_deadline = "20s"
  }
  group "g" {
    count = 2
    task "tick" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "while true; do echo tick $(date +%s%N); sleep 0.3; done"]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
`

// TestWebUIFollowsTheClusterLive drives the web UI of a dev agent that
// requires tokens in a headless Chromium, the way an operator would: the
// token prompt, a job planned and submitted from a pasted file whose
// allocations turn running without a reload, a task's log followed, the
// event stream resumed after a drop, a node drained from its button and
// its allocations moved to the other node, a canary promoted; and every
// page once, with a screenshot of each for docs/ui.md.
func TestWebUIFollowsTheClusterLive(t *testing.T) {
	dir := t.TempDir()
	const token = "ui-test-token-0123456789"
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NCTL_TOKEN", token)
	addr, etcd := freeAddr(t), freeAddr(t)
	start(t, filepath.Join(binDir, "nomadic"), "agent", "-dev", "-http-addr", addr, "-nomad-http-addr", "off",
		"-etcd-client-addr", etcd, "-etcd-peer-addr", freeAddr(t), "-data-dir", t.TempDir(), "-http-token-file", tokens)
	waitReadyNodes(t, addr, 1)
	// A second node, kept ineligible until the drain needs somewhere to go.
	start(t, filepath.Join(binDir, "nomadic"), "agent", "-client", "-enable-raw-exec", "-node-name", "ui-second",
		"-etcd-endpoints", "http://"+etcd, "-data-dir", t.TempDir())
	waitReadyNodes(t, addr, 2)
	var nodes []*api.Node
	if err := json.Unmarshal([]byte(mustNctl(t, addr, dir, "get", "nodes", "-o", "json")), &nodes); err != nil {
		t.Fatal(err)
	}
	var first, second *api.Node
	for _, n := range nodes {
		if n.Name == "ui-second" {
			second = n
		} else {
			first = n
		}
	}
	if first == nil || second == nil {
		t.Fatalf("nodes: %+v", nodes)
	}
	mustNctl(t, addr, dir, "node", "eligibility", second.ID[:8], "--disable")
	// The ticker's tasks are raw_exec processes of their own, which the
	// agents leave running when they stop: stop the job first (cleanups
	// run last first), so that they end with the test.
	t.Cleanup(func() {
		stopJobAndWait(t, addr, dir, "ticker")
		stopJobAndWait(t, addr, dir, "web") // the canary's service
	})

	b := newBrowser(t)
	shots := screenshotDir(t)

	// Without a token the UI asks for one; a wrong one is refused with
	// the server's reason.
	b.do(t, 30*time.Second, "opening the UI", chromedp.Navigate("http://"+addr+"/"))
	b.waitJS(t, 20*time.Second, "the token prompt", `document.getElementById('token-dialog').open`)
	b.screenshot(t, shots, "token")
	signIn := func(tok string) {
		b.exec(t, `document.getElementById('token-input').value = `+js(tok)+`; document.getElementById('token-form').requestSubmit()`)
	}
	signIn("not-the-token-at-all")
	b.waitJS(t, 10*time.Second, "the refusal", `document.getElementById('token-error').textContent.includes('not accepted')`)
	signIn(token)
	b.waitJS(t, 20*time.Second, "the overview after signing in",
		`!document.getElementById('token-dialog').open && document.querySelector('main').dataset.route === '' && nomadic.live.state === 'live'`)
	// Set once: a reload would lose it.
	b.exec(t, `window.noReload = true; window.confirm = () => true`)

	// A page's follower matches again, after its read, an event it could
	// place only with what that read brings (an allocation's status that
	// overtakes the read listing the new allocation).
	b.exec(t, `(async () => {
	  const { follow } = await import('./js/follow.js');
	  window.followProbe = { renders: 0 };
	  const f = follow({
	    parts: { nodes: '/v1/nodes' },
	    match: (ev, data) => (ev.key === 'probe' && data.nodes ? ['nodes'] : []),
	    render: () => { window.followProbe.renders++; },
	  });
	  for (const fn of nomadic.model.watchers) fn({ topic: 'Allocation', type: 'AllocationStatus', key: 'probe' });
	  await f.ready;
	  window.followProbe.stop = () => f.stop();
	})()`)
	b.waitJS(t, 10*time.Second, "a held event read again after the first read", `window.followProbe && window.followProbe.renders === 2`)
	b.exec(t, `window.followProbe.stop()`)

	// A pasted job file is planned, then submitted.
	b.goTo(t, "run")
	b.exec(t, `document.getElementById('run-src').value = `+js(uiJob)+`; document.getElementById('run-form').requestSubmit()`)
	b.waitJS(t, 20*time.Second, "the plan", `document.getElementById('plan-out').textContent.includes('job ticker would be created')`)
	b.screenshot(t, shots, "run")
	b.exec(t, `document.getElementById('submit-btn').click()`)
	b.waitJS(t, 20*time.Second, "the job's page", `document.querySelector('main').dataset.route === 'job/default/ticker'`)
	// Its allocations turn running in place.
	running := `[...document.querySelectorAll('tr[data-alloc]')].filter(r => r.querySelector('.badge.s-running'))`
	b.waitJS(t, 60*time.Second, "two allocations running on the job's page", running+`.length === 2 && window.noReload`)
	b.screenshot(t, shots, "job")
	// The file it was submitted from is kept with its version, and
	// editing the job starts from that file.
	if src := mustNctl(t, addr, dir, "job", "inspect", "ticker", "-o", "source"); strings.TrimSpace(src) != strings.TrimSpace(uiJob) {
		t.Fatalf("the kept source: %q", src)
	}
	b.exec(t, `location.hash = '#/run?job=default/ticker'`)
	b.waitJS(t, 20*time.Second, "the edit page with the job's file", `document.getElementById('run-src') && document.getElementById('run-src').value === `+js(uiJob))

	b.goTo(t, "jobs")
	b.waitJS(t, 10*time.Second, "the job in the list", `document.querySelector('tr[data-key="default/ticker"] .badge.s-running') !== null`)
	b.screenshot(t, shots, "jobs")

	// A task's log, followed: a new line shows up.
	allocs := waitRunning(t, addr, "ticker", 2)
	b.goTo(t, "alloc/"+allocs[0].ID)
	b.waitJS(t, 20*time.Second, "the log", `document.getElementById('log').textContent.includes('tick ')`)
	lines := eval[int](t, b, `document.getElementById('log').textContent.split('\n').filter(Boolean).length`)
	b.waitJS(t, 10*time.Second, "a new log line", fmt.Sprintf(`document.getElementById('log').textContent.split('\n').filter(Boolean).length > %d`, lines))
	b.screenshot(t, shots, "alloc")

	// A command in the running task, from the page, line by line: its
	// output, then its exit code once its input is closed. The session's
	// token (this server needs one) goes as a websocket subprotocol,
	// which the server takes off before the node.
	b.exec(t, `document.getElementById('exec-cmd').value = '/bin/sh'; document.getElementById('exec-form').requestSubmit()`)
	b.waitJS(t, 20*time.Second, "the exec session open", `!document.getElementById('exec-in').disabled`)
	b.exec(t, `document.getElementById('exec-in').value = 'echo exec-$((6*7))'; document.getElementById('exec-in-form').requestSubmit()`)
	b.waitJS(t, 10*time.Second, "the command's output", `document.getElementById('exec-out').textContent.includes('exec-42')`)
	b.exec(t, `document.getElementById('exec-end').click()`)
	b.waitJS(t, 10*time.Second, "the command's exit", `document.getElementById('exec-state').textContent.includes('exited with code 0')`)
	// A command is split into words as a shell would.
	b.exec(t, `import('./js/pages/alloc.js').then((m) => { window.execWords = JSON.stringify(m.words(`+js(`sh -c 'echo "a  b"' x\ y ""`)+`)); })`)
	b.waitJS(t, 5*time.Second, "the words of a command", `window.execWords === JSON.stringify(['sh', '-c', 'echo "a  b"', 'x y', ''])`)

	// The stream drops: the indicator says so, and the stream resumes
	// from its last index, so a change made meanwhile still shows.
	b.goTo(t, "nodes")
	b.exec(t, `nomadic.live.abort.abort()`)
	b.waitJS(t, 5*time.Second, "the reconnecting indicator", `document.getElementById('live').dataset.state === 'reconnecting'`)
	mustNctl(t, addr, dir, "node", "eligibility", second.ID[:8], "--enable")
	b.waitJS(t, 20*time.Second, "the live indicator again", `document.getElementById('live').dataset.state === 'live'`)
	b.waitJS(t, 10*time.Second, "the second node eligible", `[...document.querySelectorAll('tbody tr')].some(r => r.textContent.includes('ui-second') && r.querySelector('.badge.s-ready'))`)
	b.screenshot(t, shots, "nodes")

	// Drain the first node from its button: its allocations move.
	b.goTo(t, "node/"+first.ID)
	b.waitJS(t, 10*time.Second, "the drain button", `document.querySelector('button[data-act="drain"]') && !document.querySelector('button[data-act="drain"]').disabled`)
	b.exec(t, `document.querySelector('button[data-act="drain"]').click()`)
	b.waitJS(t, 20*time.Second, "the node draining", `document.querySelector('h1 .badge.s-draining, h1 .badge.s-ineligible') !== null`)
	b.goTo(t, "job/default/ticker")
	onSecond := fmt.Sprintf(`%s.filter(r => r.textContent.includes(%s))`, running, js(second.ID[:8]))
	b.waitJS(t, 90*time.Second, "the allocations running on the second node", onSecond+`.length === 2 && `+running+`.length === 2`)
	b.goTo(t, "node/"+first.ID)
	b.waitJS(t, 30*time.Second, "the drained node ineligible and empty", `document.querySelector('h1 .badge.s-ineligible') !== null && !document.querySelector('tr[data-alloc] .badge.s-running')`)
	b.screenshot(t, shots, "node")

	// A canary waits for the Promote button.
	mustNctl(t, addr, dir, "apply", "-f", serviceFile(t, dir, "sleep 300 # v0", ""))
	if out := mustNctl(t, addr, dir, "apply", "-f", serviceFile(t, dir, "sleep 300 # v1", "canary = 1")); !strings.Contains(out, "wait for promotion") {
		t.Fatalf("canary apply: %q", out)
	}
	b.goTo(t, "job/default/web?tab=deployments")
	promote := `document.querySelector('button[data-act="promote"]')`
	b.waitJS(t, 30*time.Second, "the promote button", promote+` && !`+promote+`.disabled`)
	b.screenshot(t, shots, "deployments")
	b.exec(t, promote+`.click()`)
	b.waitJS(t, 60*time.Second, "the deployment successful", `document.querySelector('section[aria-label^="deployment"] h3 .badge.s-successful') !== null`)

	// The other pages, each once.
	for _, p := range []struct{ route, ready, shot string }{
		{"topology", `document.getElementById('topo-wrap').dataset.tiles === '2'`, "topology"},
		{"evals", `document.querySelectorAll('tbody tr').length > 0`, "evals"},
		{"servers", `document.querySelector('.badge.s-leader') !== null`, "servers"},
		{"services", `document.querySelector('main h1') !== null`, "services"},
		{"", `document.querySelector('.card .big') !== null && document.querySelector('.card .big').textContent === '2'`, "overview"},
	} {
		b.goTo(t, p.route)
		b.waitJS(t, 20*time.Second, "the "+p.shot+" page", p.ready)
		b.screenshot(t, shots, p.shot)
	}
	if !eval[bool](t, b, `window.noReload === true`) {
		t.Fatal("the page was reloaded")
	}
}

// stopJobAndWait stops a job and waits (30 s at most) until none of its
// allocations runs, so that its tasks do not outlive the agents.
func stopJobAndWait(t *testing.T, addr, dir, job string) {
	t.Helper()
	if _, errOut, code := nctl(t, addr, dir, "delete", "job", job); code != 0 {
		t.Logf("stopping %s: %s", job, errOut) // the test ended before it ran it
		return
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		out, _, code := nctl(t, addr, dir, "get", "allocs", "--job", job, "-o", "json")
		var allocs []*api.Allocation
		if code != 0 || json.Unmarshal([]byte(out), &allocs) != nil {
			continue
		}
		live := 0
		for _, a := range allocs {
			if s := a.ClientStatusOf(); s == api.AllocClientRunning || s == api.AllocClientPending {
				live++
			}
		}
		if live == 0 {
			return
		}
	}
	t.Errorf("allocations of %s still run 30 s after it was stopped", job)
}
