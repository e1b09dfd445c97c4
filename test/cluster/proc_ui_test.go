package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// artifactsDir is where browser tests leave screenshots (gitignored).
const artifactsDir = "artifacts"

// chromiumNames are the executables tried for the browser tests.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"}

// findChromium returns the browser's path. Missing, the test fails in CI
// (CI=set: .ci/run installs Debian's chromium, so its absence is a broken
// CI, not a reason to skip) and skips elsewhere.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, n := range chromiumNames {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("no Chromium found (tried %v): apt-get install chromium", chromiumNames)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// browser is a headless Chromium tab that records console errors,
// uncaught exceptions and failed loads.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu     sync.Mutex
	errors []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := findChromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox refuses to start
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 1100),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx}
	chromedp.ListenTarget(ctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.APITypeError || e.Type == runtime.APITypeAssert {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				b.record("console." + string(e.Type) + ": " + strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			b.record("exception: " + e.ExceptionDetails.Error())
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.LevelError {
				b.record("log: " + e.Entry.Text + " " + e.Entry.URL)
			}
		}
	})
	start := time.Now()
	if err := chromedp.Run(ctx, cdplog.Enable()); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	t.Logf("Chromium started in %v", time.Since(start).Round(time.Millisecond))
	return b
}

func (b *browser) record(s string) {
	b.mu.Lock()
	b.errors = append(b.errors, s)
	b.mu.Unlock()
}

func (b *browser) consoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// run runs actions with a deadline.
func (b *browser) run(d time.Duration, actions ...chromedp.Action) error {
	ctx, cancel := context.WithTimeout(b.ctx, d)
	defer cancel()
	return chromedp.Run(ctx, actions...)
}

// eval evaluates a JavaScript expression into out.
func (b *browser) eval(js string, out any) error {
	return b.run(5*time.Second, chromedp.Evaluate(js, out))
}

// waitJS polls a JavaScript expression until it is true, up to d, and
// returns how long that took.
func (b *browser) waitJS(d time.Duration, what, js string) (time.Duration, error) {
	start := time.Now()
	var last error
	for {
		var ok bool
		err := b.eval(js, &ok)
		if err == nil && ok {
			return time.Since(start), nil
		}
		if err != nil {
			last = err
		}
		if time.Since(start) > d {
			return time.Since(start), fmt.Errorf("after %v the page does not show %s (last error: %v)", d, what, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// screenshot saves the viewport under artifacts/.
func (b *browser) screenshot(name string) {
	var png []byte
	if err := b.run(10*time.Second, chromedp.CaptureScreenshot(&png)); err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.MkdirAll(artifactsDir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	p := filepath.Join(artifactsDir, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s", p)
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestProcConsole drives the web console in headless Chromium against 3
// real agents: the page loads with no console errors, shows the 3 members
// and the leader; a name registered through the API appears in the names
// list and in the live feed within 1 s; a killed node turns dead and its
// names leave the list. Screenshots go to artifacts/.
func TestProcConsole(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3-process cluster and a browser")
	}
	b := newBrowser(t)
	c := newProcCluster(t, procOptions{})
	ctx := context.Background()
	leader := c.Leader(ctx)
	if leader < 0 {
		t.Fatal("no leader")
	}
	// The page is served by a node that stays up; the victim is another
	// follower, so the kill costs no election.
	served, victim := -1, -1
	for i := range c.Size() {
		switch {
		case i == leader:
		case served < 0:
			served = i
		case victim < 0:
			victim = i
		}
	}
	url := c.API(served).base + "/ui/"
	if err := b.run(30*time.Second, chromedp.Navigate(url), chromedp.WaitVisible("#members tbody tr", chromedp.ByQuery)); err != nil {
		t.Fatalf("loading %s: %v", url, err)
	}

	allAlive := `document.querySelectorAll('#members tbody tr[data-state="alive"]').length === 3`
	leaderShown := `document.getElementById('raft-leader').textContent === ` + jsString(c.Name(leader)) +
		` && document.querySelector('#members tbody tr[data-node=` + jsString(c.Name(leader)) + `] .leader') !== null`
	if _, err := b.waitJS(10*time.Second, "3 alive members", allAlive); err != nil {
		t.Fatal(err)
	}
	if _, err := b.waitJS(10*time.Second, "the leader "+c.Name(leader), leaderShown); err != nil {
		t.Fatal(err)
	}
	if _, err := b.waitJS(10*time.Second, "the live feed connected", `document.getElementById('feed-state').textContent === '(live)'`); err != nil {
		t.Fatal(err)
	}
	if _, err := b.waitJS(10*time.Second, "this node's metrics", `/^\d+$/.test(document.getElementById('m-procs').textContent)`); err != nil {
		t.Fatal(err)
	}
	b.screenshot("console-loaded.png")

	// A name registered through the API appears in the list and the feed.
	name := "console/" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, _, err := procRegister(ctx, c.API(served), name); err != nil {
		t.Fatal(err)
	}
	registered := time.Now()
	inList := `document.querySelector('#names tbody tr[data-name=` + jsString(name) + `]') !== null`
	inFeed := `document.querySelector('#feed li[data-type="registered"][data-name=` + jsString(name) + `]') !== null`
	if _, err := b.waitJS(time.Second-time.Since(registered), "the new name in the list within 1 s", inList+" && "+inFeed); err != nil {
		t.Error(err)
	}
	t.Logf("MEASURE name visible in list and feed %v after the register call returned", time.Since(registered).Round(time.Millisecond))
	var buttons int
	if err := b.eval(`document.querySelectorAll('#names button').length`, &buttons); err != nil || buttons != 0 {
		t.Errorf("without a token the console must be read-only: %d buttons (%v)", buttons, err)
	}

	// The victim's name leaves the list when the victim dies.
	victimName := "console/victim-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, _, err := procRegister(ctx, c.API(victim), victimName); err != nil {
		t.Fatal(err)
	}
	victimRow := `document.querySelector('#names tbody tr[data-name=` + jsString(victimName) + `]')`
	if _, err := b.waitJS(5*time.Second, "the victim's name", victimRow+` !== null`); err != nil {
		t.Fatal(err)
	}
	b.screenshot("console-names.png")
	if err := c.Kill(victim); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	dead := `document.querySelector('#members tbody tr[data-node=` + jsString(c.Name(victim)) + `][data-state="dead"]') !== null`
	if _, err := b.waitJS(30*time.Second, c.Name(victim)+" dead", dead); err != nil {
		t.Error(err)
	}
	if _, err := b.waitJS(30*time.Second, "the victim's name gone", victimRow+` === null && `+inList); err != nil {
		t.Error(err)
	}
	t.Logf("MEASURE killed node dead and its name gone from the page %v after SIGKILL", time.Since(killed).Round(time.Millisecond))
	b.screenshot("console-dead.png")

	for _, e := range b.consoleErrors() {
		t.Errorf("browser: %s", e)
	}
	var nodes []*cdp.Node
	if err := b.run(5*time.Second, chromedp.Nodes("#error", &nodes, chromedp.ByQuery)); err == nil && len(nodes) == 1 {
		var hidden bool
		if err := b.eval(`document.getElementById('error').hidden`, &hidden); err == nil && !hidden {
			var text string
			_ = b.eval(`document.getElementById('error').textContent`, &text)
			t.Errorf("the page shows an error: %s", text)
		}
	}
}
