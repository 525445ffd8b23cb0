package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser is a headless Chromium driven over the DevTools protocol, one
// tab, with the page's uncaught errors collected.
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

// newBrowser starts Debian's chromium for the test (make test installs
// it) and stops it when the test ends. The flags keep it off the network:
// the machines of CI have none, and its background connections would only
// fail.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed (make test installs Debian's chromium): ", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 860),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true), chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("disable-background-timer-throttling", true), chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("metrics-recording-only", true), chromedp.Flag("password-store", "basic"),
		chromedp.Flag("force-color-profile", "srgb"), chromedp.Flag("hide-scrollbars", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	b := &browser{ctx: ctx}
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("starting chromium: %v", err)
	}
	// Uncaught exceptions and console.error calls of the page fail the
	// test; the browser's own log (a 401 the page expects) does not.
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || (m.Type == chromedp.ConsoleError && m.Source == "") {
				b.mu.Lock()
				b.errors = append(b.errors, fmt.Sprintf("%s:%d %s", m.URL, m.Line+1, m.Text))
				b.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		<-done
		if errs := b.jsErrors(); len(errs) > 0 {
			t.Errorf("the page threw:\n%s", strings.Join(errs, "\n"))
		}
	})
	return b
}

func (b *browser) jsErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// do runs actions with a bound on their time.
func (b *browser) do(t *testing.T, timeout time.Duration, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v\npage text:\n%.3000s", what, err, b.text())
	}
}

// text is what the page's main element shows, for failure messages.
func (b *browser) text() string {
	ctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('main') ? document.querySelector('main').innerText : document.body.innerText`))
	return s
}

// waitJS waits until a JavaScript expression is true, polling it.
func (b *browser) waitJS(t *testing.T, timeout time.Duration, what, expr string) {
	t.Helper()
	b.do(t, timeout+time.Second, what, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout))(ctx, tg)
		return chromedp.Void{}, err
	})
}

// goTo sets the page's route (#/jobs) and waits for it to render.
func (b *browser) goTo(t *testing.T, route string) {
	t.Helper()
	b.exec(t, "location.hash = "+js("#/"+route))
	b.waitJS(t, 20*time.Second, "rendering #/"+route, "document.querySelector('main').dataset.route === "+js(route))
}

// exec runs a JavaScript statement in the page.
func (b *browser) exec(t *testing.T, expr string) {
	t.Helper()
	b.do(t, 10*time.Second, "running "+expr, chromedp.Evaluate[chromedp.Void](expr))
}

// eval evaluates a JavaScript expression.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// screenshotDir is where the tests keep their screenshots: docs/ui when
// NOMADIC_UI_SCREENSHOTS=1 (make screenshots), a temporary directory
// otherwise.
func screenshotDir(t *testing.T) string {
	if os.Getenv("NOMADIC_UI_SCREENSHOTS") == "1" {
		dir, err := filepath.Abs("../docs/ui")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// screenshot saves what the tab shows as dir/name.png.
func (b *browser) screenshot(t *testing.T, dir, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	time.Sleep(150 * time.Millisecond) // the last paint
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// js quotes a Go string for JavaScript.
func js(s string) string { return fmt.Sprintf("%q", s) }
