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
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/roster-dev/roster/api"
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

	mu      sync.Mutex
	errors  []string
	dialogs []string // messages of the confirm dialogs the page opened
	accept  bool     // how the next dialogs are answered
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
		case *page.EventJavascriptDialogOpening:
			b.mu.Lock()
			b.dialogs = append(b.dialogs, e.Message)
			accept := b.accept
			b.mu.Unlock()
			// Answering is a command: not from the event loop's goroutine.
			go func() { _ = chromedp.Run(ctx, page.HandleJavaScriptDialog(accept)) }()
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

// answerDialogs sets how the page's next confirm dialogs are answered and
// returns the messages of those it opened so far.
func (b *browser) answerDialogs(accept bool) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.accept = accept
	return append([]string(nil), b.dialogs...)
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

// Tokens of the console test's ACL file: the harness and the operator
// steps use ops; the page starts with a read-only token.
const (
	procConsoleOps    = "console-ops-0123456789abcdef"
	procConsoleViewer = "console-viewer-0123456789ab"
)

func procConsoleACLFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "acl.json")
	body := `{"tokens": [
		{"id": "ops", "secret": "` + procConsoleOps + `", "policy": "operator"},
		{"id": "viewer", "secret": "` + procConsoleViewer + `", "policy": "read", "names": [""], "groups": [""]}
	]}`
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestProcConsole drives the web console in headless Chromium against 3
// real agents with ACLs on: the page, given a read-only token, loads with
// no console errors, shows the 3 members and the leader and offers no
// write; a name registered through the API appears in the names list and
// in the live feed within 1 s; given an operator token it offers to
// unregister a name, does nothing when the confirmation is declined and
// unregisters when it is accepted; a killed node turns dead and its names
// leave the list. Screenshots go to artifacts/.
func TestProcConsole(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3-process cluster and a browser")
	}
	b := newBrowser(t)
	c := newProcCluster(t, procOptions{Token: procConsoleOps, ExtraArgs: []string{"-acl-file", procConsoleACLFile(t)}})
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
	// The token is in the page's session storage before it loads (as if
	// typed in an earlier visit): a first load without one would see 401s.
	base := c.API(served).base
	err := b.run(30*time.Second,
		chromedp.Navigate(base+"/ui/favicon.svg"),
		chromedp.Evaluate(`sessionStorage.setItem('roster-token', `+jsString(procConsoleViewer)+`)`, nil),
		chromedp.Navigate(base+"/ui/"),
		chromedp.WaitVisible("#members tbody tr", chromedp.ByQuery))
	if err != nil {
		t.Fatalf("loading %s/ui/: %v", base, err)
	}
	if _, err := b.waitJS(10*time.Second, "the read-only token's policy", `document.getElementById('token-state').textContent === 'token viewer: read'`); err != nil {
		t.Fatal(err)
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
	// A cluster-wide group joined through the API shows in the groups
	// card and in the feed.
	group := "console/group-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	member, err := c.API(served).spawn(ctx, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.API(served).Client().Groups().Join(ctx, group, api.PID(member), nil); err != nil {
		t.Fatal(err)
	}
	inGroups := `document.querySelector('#groups-card:not([hidden]) #groups tbody tr[data-group=` + jsString(group) + `]') !== null` +
		` && document.querySelector('#feed li[data-type="group-join"][data-name=` + jsString(group) + `]') !== null`
	if _, err := b.waitJS(5*time.Second, "the group in the groups card and the feed", inGroups); err != nil {
		t.Error(err)
	}

	var buttons int
	if err := b.eval(`document.querySelectorAll('#names button').length`, &buttons); err != nil || buttons != 0 {
		t.Errorf("with a read-only token the console must offer no write: %d buttons (%v)", buttons, err)
	}

	// An operator token offers unregister, behind a confirmation.
	target := "console/unreg-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, _, err := procRegister(ctx, c.API(served), target); err != nil {
		t.Fatal(err)
	}
	button := `document.querySelector('#names tbody tr[data-name=` + jsString(target) + `] button')`
	err = b.run(10*time.Second,
		chromedp.SetValue("#token", procConsoleOps, chromedp.ByQuery),
		chromedp.Click("#token-form button[type=submit]", chromedp.ByQuery))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.waitJS(10*time.Second, "an unregister button for "+target, button+` !== null`); err != nil {
		t.Fatal(err)
	}
	b.answerDialogs(false)
	if err := b.eval(button+`.click()`, nil); err != nil {
		t.Fatal(err)
	}
	err = WaitFor(5*time.Second, func() error {
		if d := b.answerDialogs(false); len(d) != 1 || !strings.Contains(d[0], target) {
			return fmt.Errorf("confirm dialogs %q, want one naming %s", d, target)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if a, err := c.API(served).lookup(ctx, target); err != nil || a.Status != 200 {
		t.Fatalf("declined unregister removed %s anyway: %v %v", target, a, err)
	}
	b.answerDialogs(true)
	if err := b.eval(button+`.click()`, nil); err != nil {
		t.Fatal(err)
	}
	unreg := `document.querySelector('#names tbody tr[data-name=` + jsString(target) + `]') === null && ` +
		`document.querySelector('#feed li[data-type="unregistered"][data-name=` + jsString(target) + `]') !== null`
	if _, err := b.waitJS(10*time.Second, target+" unregistered by the operator", unreg); err != nil {
		t.Error(err)
	}
	if _, err := procWaitGone(ctx, c.apis([]int{0, 1, 2}), target, time.Now(), 10*time.Second); err != nil {
		t.Error(err)
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
