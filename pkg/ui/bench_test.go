package ui_test

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/httpapi"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

// The sizes of issue 18's targets: the jobs page with 1,000 jobs, the
// topology with 5,000 nodes running 50,000 allocations.
const (
	benchNodes  = 5000
	benchJobs   = 1000
	benchAllocs = 50000
)

// parallel runs fn(i) for i in [0, n) on 16 goroutines.
func parallel(t *testing.T, n int, fn func(i int) error) {
	t.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}

// bigCluster fills an embedded etcd with the benchmark's cluster through
// the store, as the servers and node agents write it, and serves the API
// (with the servers' cache, as a server runs it) and the UI.
func bigCluster(t *testing.T) (*store.Store, *httptest.Server) {
	st := store.New(testutil.Etcd(t), "/bench")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	sess, err := st.NewSession(ctx, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	parallel(t, benchNodes, func(i int) error {
		id := fmt.Sprintf("%08d-0000-4000-8000-%012d", i, i)
		n := &api.Node{ID: id, Name: fmt.Sprintf("node-%04d", i), Datacenter: fmt.Sprintf("dc%d", 1+i%3), Eligible: true,
			Resources: api.Resources{CPU: 16000, MemoryMB: 32768, DiskMB: 100000},
			Drivers:   map[string]*api.DriverInfo{"mock": {Detected: true, Healthy: true}}}
		if err := st.PutNode(ctx, n); err != nil {
			return err
		}
		if i%250 == 7 {
			return nil // a few nodes down
		}
		return st.PutHeartbeat(ctx, id, sess.Lease())
	})
	parallel(t, benchJobs, func(i int) error {
		_, err := st.RegisterJob(ctx, &api.Job{ID: fmt.Sprintf("job-%04d", i), Namespace: "default", Type: api.JobTypeService, Priority: 50,
			Groups: []*api.TaskGroup{{Name: "web", Count: benchAllocs / benchJobs, Tasks: []*api.Task{{Name: "t", Driver: "mock",
				Resources: &api.Resources{CPU: 100 + 50*(i%7), MemoryMB: 256 + 128*(i%9)}}}}}}, time.Now())
		return err
	})
	per := benchAllocs / benchJobs
	parallel(t, benchJobs, func(j int) error {
		allocs := make([]*api.Allocation, 0, per)
		for k := range per {
			i := j*per + k
			allocs = append(allocs, &api.Allocation{ID: api.NewID(), Name: fmt.Sprintf("job-%04d.web[%d]", j, k), Namespace: "default",
				JobID: fmt.Sprintf("job-%04d", j), TaskGroup: "web", Index: k, NodeID: fmt.Sprintf("%08d-0000-4000-8000-%012d", i%benchNodes, i%benchNodes),
				DesiredStatus: api.AllocDesiredRun, Resources: api.Resources{CPU: 100 + 50*(j%7), MemoryMB: 256 + 128*(j%9)},
				CreateTime: time.Now(), ModifyTime: time.Now()})
		}
		if _, err := st.CommitPlan(ctx, &store.Commit{Allocs: allocs}); err != nil {
			return err
		}
		for _, a := range allocs {
			status := api.AllocClientRunning
			if a.Index%17 == 3 {
				status = api.AllocClientPending
			}
			if err := st.PutAllocStatus(ctx, a.NodeID, a.ID, &api.AllocStatus{ClientStatus: status, UpdateTime: time.Now(),
				Tasks: map[string]*api.TaskState{"t": {State: status}}}); err != nil {
				return err
			}
		}
		return nil
	})
	t.Logf("wrote %d nodes, %d jobs, %d allocations in %v", benchNodes, benchJobs, benchAllocs, time.Since(began).Round(time.Second))
	c := store.NewCache(st)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	st.UseCache(c)
	srv := &httpapi.Server{Store: st, Name: "bench", Version: "bench"}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return st, ts
}

func chromium(t *testing.T) context.Context {
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed")
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 860),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-extensions", true), chromedp.Flag("disable-dev-shm-usage", true))
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	return ctx
}

func waitFor(t *testing.T, ctx context.Context, expr string, timeout time.Duration) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := chromedp.Run(c, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(5*time.Millisecond))); err != nil {
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({live: nomadic.live.state, attempt: nomadic.live.attempt, index: nomadic.live.index, route: location.hash, main: document.querySelector("main").dataset.route, text: document.querySelector("main").innerText.slice(0, 300)})`))
		t.Fatalf("waiting for %s: %v (%s)", expr, err, state)
	}
}

func jsInt(t *testing.T, ctx context.Context, expr string) int {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[int](expr))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// cpuTime is the CPU this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestUIRendersLargeClustersQuickly measures the web UI against a cluster
// of issue 18's size (docs/benchmarks.md): a fresh load of the jobs page
// with 1,000 jobs and of the topology with 5,000 nodes and 50,000
// allocations in a real Chromium, how long a change takes to show, and
// what 50 open dashboards cost the server. It takes a few minutes, so it
// runs only with NOMADIC_UI_BENCH=1:
//
//	NOMADIC_UI_BENCH=1 go test -count=1 -run LargeClusters -v -timeout 20m ./pkg/ui
func TestUIRendersLargeClustersQuickly(t *testing.T) {
	if os.Getenv("NOMADIC_UI_BENCH") != "1" {
		t.Skip("set NOMADIC_UI_BENCH=1 to measure the UI on a cluster of 5,000 nodes")
	}
	st, ts := bigCluster(t)
	ctx := context.Background()

	// The cache lists the cluster when it starts: measure once it holds it.
	for i := 0; ; i++ {
		start := time.Now()
		if _, err := st.ReadSnapshot(ctx); err != nil {
			t.Fatal(err)
		}
		if time.Since(start) < 50*time.Millisecond || i == 100 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The snapshot the list pages read, server side.
	// NOMADIC_UI_PROFILE=file keeps a CPU profile of the snapshot reads.
	if f, err := os.Create(os.Getenv("NOMADIC_UI_PROFILE")); err == nil {
		_ = pprof.StartCPUProfile(f)
		defer f.Close()
	}
	for _, kinds := range []string{"jobs,allocs,evals", "nodes,allocs", "nodes,allocs&plain"} {
		plain := strings.HasSuffix(kinds, "&plain")
		kinds = strings.TrimSuffix(kinds, "&plain")
		var best time.Duration
		var size int64
		for range 5 {
			req, _ := http.NewRequest(http.MethodGet, ts.URL+"/v1/ui/snapshot?kinds="+kinds, nil)
			if !plain {
				req.Header.Set("Accept-Encoding", "gzip")
			}
			start := time.Now()
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			var body io.Reader = resp.Body
			if !plain {
				body, _ = gzip.NewReader(resp.Body)
			}
			n, _ := io.Copy(io.Discard, body)
			resp.Body.Close()
			if d := time.Since(start); best == 0 || d < best {
				best = d
			}
			size = n
		}
		t.Logf("snapshot %s (gzip %v): best of 5 %v, %d KiB of JSON", kinds, !plain, best.Round(time.Millisecond), size>>10)
	}

	pprof.StopCPUProfile()
	b := chromium(t)
	for _, page := range []struct{ route, ready string }{
		{"jobs", `document.querySelectorAll('tr[data-key]').length === 100`},
		{"topology", `document.getElementById('topo-wrap') && document.getElementById('topo-wrap').dataset.tiles === '5000'`},
	} {
		for run := range 3 {
			if err := chromedp.Do(b, chromedp.Navigate("about:blank")); err != nil {
				t.Fatal(err)
			}
			if err := chromedp.Do(b, chromedp.Navigate(ts.URL+"/ui/#/"+page.route)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, b, `document.querySelector('main').dataset.route === '`+page.route+`' && `+page.ready, 30*time.Second)
			t.Logf("%s page, load %d: %d ms from navigation to drawn, %d ms of it from the route's start: %d ms to fetch and parse the snapshot, %d ms to build the model, the rest to render",
				page.route, run+1, jsInt(t, b, `+document.querySelector('main').dataset.since`), jsInt(t, b, `+document.querySelector('main').dataset.rendered`),
				jsInt(t, b, `nomadic.model.lastLoad.read`), jsInt(t, b, `nomadic.model.lastLoad.fill`))
		}
	}
	if os.Getenv("NOMADIC_UI_SCREENSHOTS") == "1" {
		png, err := chromedp.Run(b, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("../../docs/ui/topology-5000.png", png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A change in etcd, shown by the page: a new job on the jobs page, a
	// new allocation in the topology's count.
	if err := chromedp.Do(b, chromedp.Navigate(ts.URL+"/ui/#/jobs?q=job-new")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, `document.querySelector('main').dataset.route.startsWith('jobs') && nomadic.live.state === 'live'`, 30*time.Second)
	for i := range 3 {
		id := fmt.Sprintf("job-new-%d", i)
		start := time.Now()
		if _, err := st.RegisterJob(ctx, &api.Job{ID: id, Namespace: "default", Type: api.JobTypeService, Priority: 50,
			Groups: []*api.TaskGroup{{Name: "g", Count: 1, Tasks: []*api.Task{{Name: "t", Driver: "mock"}}}}}, time.Now()); err != nil {
			t.Fatal(err)
		}
		waitFor(t, b, `document.querySelector('tr[data-key="default/`+id+`"]') !== null`, 10*time.Second)
		t.Logf("jobs page: a registered job shown %v after its write", time.Since(start).Round(time.Millisecond))
	}
	if err := chromedp.Do(b, chromedp.Navigate(ts.URL+"/ui/#/topology")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, `document.querySelector('main').dataset.route === 'topology' && nomadic.live.state === 'live'`, 30*time.Second)
	for i := range 3 {
		want := fmt.Sprintf("%d allocations", benchAllocs+i+1)
		start := time.Now()
		a := &api.Allocation{ID: api.NewID(), Name: fmt.Sprintf("extra[%d]", i), Namespace: "default", JobID: "job-0000", TaskGroup: "web",
			NodeID: "00000001-0000-4000-8000-000000000001", DesiredStatus: api.AllocDesiredRun, Resources: api.Resources{CPU: 100, MemoryMB: 256}}
		if _, err := st.CommitPlan(ctx, &store.Commit{Allocs: []*api.Allocation{a}}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, b, `document.getElementById('topo-sum').textContent.replace(/,/g, '').includes(`+strconv.Quote(want)+`)`, 10*time.Second)
		t.Logf("topology: a new allocation counted %v after its write", time.Since(start).Round(time.Millisecond))
	}

	// 50 open dashboards: each reads the overview's snapshot, then follows
	// the event stream, in a process of their own, while allocations
	// change status 100 times a second; the server's CPU with them is
	// compared with the same churn and no dashboard.
	churn := func(d time.Duration) (time.Duration, int) {
		list, err := st.ListAllocs(ctx, store.AllocFilter{JobID: "job-0001", Namespace: "default"})
		if err != nil {
			t.Fatal(err)
		}
		before := cpuTime()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		end := time.Now().Add(d)
		n := 0
		for time.Now().Before(end) {
			<-tick.C
			a := list[n%len(list)]
			status := []string{api.AllocClientRunning, api.AllocClientPending}[n%2]
			if err := st.PutAllocStatus(ctx, a.NodeID, a.ID, &api.AllocStatus{ClientStatus: status, UpdateTime: time.Now(),
				Tasks: map[string]*api.TaskState{"t": {State: status}}}); err != nil {
				t.Fatal(err)
			}
			n++
		}
		return cpuTime() - before, n
	}
	idle, n := churn(10 * time.Second)
	t.Logf("no dashboard: %d status writes in 10 s cost this process %v of CPU (etcd, cache, API)", n, idle.Round(time.Millisecond))
	cmd := exec.Command(os.Args[0], "-test.run=^TestDashboardClients$", "-test.v")
	cmd.Env = append(os.Environ(), "NOMADIC_UI_CLIENTS="+ts.URL)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heapBefore := ms.HeapAlloc
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	loadStart := cpuTime()
	for sc.Scan() && !strings.Contains(sc.Text(), "all following") {
	}
	loads := cpuTime() - loadStart
	withDash, n := churn(10 * time.Second)
	runtime.GC()
	runtime.ReadMemStats(&ms)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	var last string
	for sc.Scan() {
		if strings.Contains(sc.Text(), "events") {
			last = sc.Text()
		}
	}
	_ = cmd.Wait()
	t.Logf("50 dashboards: their 50 snapshot reads cost %v of CPU; then %d status writes in 10 s cost %v (%+v for the dashboards, %.0f%% of a core); heap %+d MiB; %s",
		loads.Round(time.Millisecond), n, withDash.Round(time.Millisecond), (withDash - idle).Round(time.Millisecond),
		100*float64(withDash-idle)/float64(10*time.Second), (int64(ms.HeapAlloc)-int64(heapBefore))>>20, strings.TrimSpace(last))
}

// TestDashboardClients is the helper process of the measurement above:
// 50 clients that load the overview's snapshot and follow the event
// stream as the UI does, until terminated. It runs only when started so.
func TestDashboardClients(t *testing.T) {
	base := os.Getenv("NOMADIC_UI_CLIENTS")
	if base == "" {
		t.Skip("started by TestUIRendersLargeClustersQuickly")
	}
	var events, bytes atomic.Int64
	var ready sync.WaitGroup
	for range 50 {
		ready.Add(1)
		go func() {
			req, _ := http.NewRequest(http.MethodGet, base+"/v1/ui/snapshot?kinds=jobs,allocs,evals,nodes,deployments,servers", nil)
			req.Header.Set("Accept-Encoding", "gzip")
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				panic(err)
			}
			zr, _ := gzip.NewReader(resp.Body)
			_, _ = io.Copy(io.Discard, zr)
			resp.Body.Close()
			idx := resp.Header.Get(httpapi.IndexHeader)
			req, _ = http.NewRequest(http.MethodGet, base+"/v1/event/stream?index="+idx, nil)
			req.Header.Set("Accept", "text/event-stream")
			resp, err = http.DefaultClient.Do(req)
			if err != nil {
				panic(err)
			}
			ready.Done()
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "data: ") {
					events.Add(1)
					bytes.Add(int64(len(sc.Text())))
				}
			}
		}()
	}
	ready.Wait()
	fmt.Println("all following")
	start := time.Now()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	<-sig
	secs := time.Since(start).Seconds()
	fmt.Printf("the dashboards received %d events, %.0f KiB/s in all\n", events.Load(), float64(bytes.Load())/1024/secs)
}
