package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/console"
	"github.com/trovedb/trove/internal/httpapi"

	_ "github.com/trovedb/trove/engine"
)

// keepShots, when set, is a directory that also receives every screenshot
// (docs/console.png is the overview's, taken this way).
var keepShots = flag.String("screenshots", "", "also save the screenshots in this `directory`")

// chromiumPath is Debian's chromium, which scripts/test installs.
const chromiumPath = "/usr/bin/chromium"

// hostile is text that would run script if rendered as markup.
const hostile = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>`

// daemon is troved's handler over a storage-log store in a temporary
// directory, with seeded events.
type daemon struct {
	srv    *httptest.Server
	core   *trove.Core
	dir    string
	parent trove.Event // linked to by child
	child  trove.Event // links to parent; has a text and an image file
	seeded int         // events saved by seed
}

func startDaemon(t *testing.T, tokens []string) *daemon {
	t.Helper()
	ctx := context.Background()
	d := &daemon{dir: t.TempDir()}
	opts, _ := json.Marshal(map[string]string{"directory": d.dir})
	core, err := trove.Open(ctx, trove.Config{Storage: trove.StorageConfig{
		Events: trove.PluginConfig{Plugin: "storage-log", Options: opts},
	}})
	if err != nil {
		t.Fatal(err)
	}
	d.core = core
	api, err := httpapi.New(core, httpapi.Options{Tokens: tokens})
	if err != nil {
		t.Fatal(err)
	}
	d.srv = httptest.NewUnstartedServer(api)
	d.srv.Config.RegisterOnShutdown(api.StopStreams)
	d.srv.Start()
	t.Cleanup(func() {
		api.StopStreams()
		d.srv.Close()
		if err := core.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	if err := console.WriteCheckResult(d.dir, console.CheckResult{At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		OK: true, Summary: "7 segments, 12 blocks, 3 records"}); err != nil {
		t.Fatal(err)
	}
	d.seed(t)
	return d
}

const noteSchema = `{"$id":"note+v1","type":"object","properties":{"title":{"type":"string"},"n":{"type":"integer"}}}`

func (d *daemon) save(t *testing.T, e trove.Event, uploads ...trove.Upload) trove.Event {
	t.Helper()
	if e.Schema.IsZero() {
		e.Schema = trove.MustSchema(noteSchema)
	}
	saved, err := d.core.CreateEvent(context.Background(), e, uploads...)
	if err != nil {
		t.Fatal(err)
	}
	d.seeded++
	return saved
}

func (d *daemon) seed(t *testing.T) {
	ctx := context.Background()
	if _, err := d.core.RegisterSchema(ctx, trove.RegisteredSchema{ID: "reading", Version: "1",
		Schema: json.RawMessage(`{"type":"object","properties":{"celsius":{"type":"number"}}}`)}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		d.save(t, trove.Event{Producer: "sensor", Schema: trove.MustSchema(`{"id":"reading","version":"1"}`),
			Payload: json.RawMessage(fmt.Sprintf(`{"celsius":%d}`, 20+i))})
	}
	d.parent = d.save(t, trove.Event{Producer: "web", Payload: json.RawMessage(`{"title":"parent","n":1}`)})
	title, _ := json.Marshal(hostile)
	d.save(t, trove.Event{Producer: hostile, Payload: json.RawMessage(`{"title":` + string(title) + `,"n":2}`)})
	d.child = d.save(t, trove.Event{Producer: "web", Payload: json.RawMessage(`{"title":"child","n":3}`),
		Links: []trove.EventLink{{Type: "parent", TargetEvent: trove.EventID{ID: d.parent.ID.ID}}}},
		trove.Upload{File: trove.EventFile{ID: "notes-txt", Filename: "notes.txt", ContentType: "text/plain"},
			Data: strings.NewReader("first line\n" + hostile + "\n")},
		trove.Upload{File: trove.EventFile{ID: "dot-png", Filename: "dot.png", ContentType: "image/png"},
			Data: bytes.NewReader(tinyPNG(t))})
	// A second version of the child.
	d.save(t, trove.Event{ID: trove.EventID{ID: d.child.ID.ID, Version: 2}, Producer: "web",
		Payload: json.RawMessage(`{"title":"child, edited","n":4}`)})
}

// rendered is a page condition: the browse page on screen is the one for a
// query holding part. The URL changes at once on submit, but the page is
// rendered after the hashchange event, so the old page's results are still
// on screen for a moment; the curl line is rebuilt with each render.
func rendered(part string) string {
	return fmt.Sprintf(`location.hash.includes(%[1]q) && (document.querySelector("#curl") || {textContent: ""}).textContent.includes(%[1]q)`, part)
}

func tinyPNG(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range 8 {
		img.Set(i, i, color.RGBA{200, 30, 30, 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// browser is one headless Chromium with a fresh profile, recording every
// URL the pages request.
type browser struct {
	t        *testing.T
	ctx      context.Context
	shots    string
	mu       sync.Mutex
	requests []string
	bearer   []string // each request's Authorization header
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("headless Chromium is needed at %s (scripts/test installs Debian's chromium): %v", chromiumPath, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	for _, f := range []string{"headless", "no-sandbox", "disable-gpu", "disable-quic", "no-first-run",
		"disable-background-networking", "disable-component-update", "disable-sync",
		"no-default-browser-check", "disable-extensions", "disable-dev-shm-usage"} {
		opts = append(opts, chromedp.Flag(f, true))
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	b := &browser{t: t, ctx: ctx, shots: t.TempDir()}
	t.Cleanup(func() {
		// Close the browser and wait for it to exit before its profile
		// directory is removed.
		if err := chromedp.Cancel(ctx); err != nil {
			t.Logf("closing the browser: %v", err)
		}
		cancel()
		cancelAlloc()
	})
	chromedp.ListenTarget(ctx, func(ev any) {
		if r, ok := ev.(*network.EventRequestWillBeSent); ok {
			b.mu.Lock()
			b.requests = append(b.requests, r.Request.URL)
			auth, _ := r.Request.Headers["Authorization"].(string)
			b.bearer = append(b.bearer, auth)
			b.mu.Unlock()
		}
	})
	// The first Run starts the browser and ties it to ctx (not to a step's
	// deadline, which would close it).
	if err := chromedp.Run(ctx, network.Enable()); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	return b
}

// run runs actions with a deadline that only bounds a hung browser.
func (b *browser) run(step string, actions ...chromedp.Action) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		var page string
		_ = chromedp.Run(b.ctx, chromedp.Evaluate(`document.body ? document.body.innerText.slice(0, 2000) : ""`, &page))
		b.t.Fatalf("%s: %v\npage text:\n%s", step, err, page)
	}
}

// wait polls expr until it is true. An expression that throws (it reads
// an element the page has not rendered yet) counts as false. A poll begun
// in the page's JavaScript context just as a navigation replaced it is
// begun again in the new one.
func wait(expr string) chromedp.Action {
	guarded := "(() => { try { return Boolean(" + expr + "); } catch (e) { return false; } })()"
	return chromedp.ActionFunc(func(ctx context.Context) error {
		for {
			err := chromedp.Poll(guarded, nil, chromedp.WithPollingInterval(50*time.Millisecond)).Do(ctx)
			if err == nil || !strings.Contains(err.Error(), "Cannot find context with specified id") {
				return err
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

func (b *browser) eval(expr string, out any) {
	b.t.Helper()
	b.run("eval "+expr, chromedp.Evaluate(expr, out))
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	var s string
	b.eval(fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel), &s)
	return s
}

// screenshot saves the viewport as name.png and fails when it is blank:
// one flat colour, or nearly so.
func (b *browser) screenshot(name string) []byte {
	b.t.Helper()
	var buf []byte
	b.run("screenshot "+name, chromedp.CaptureScreenshot(&buf))
	path := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
	if *keepShots != "" {
		if err := os.WriteFile(filepath.Join(*keepShots, name+".png"), buf, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := notBlank(img); err != nil {
		b.t.Fatalf("screenshot %s (%s): %v", name, path, err)
	}
	return buf
}

// notBlank fails an image of one flat colour, or nearly so, as a whole or
// below its top eighth (a page that drew its header bar and nothing else).
func notBlank(img image.Image) error {
	if v, colours := pixelVariance(img); v < 100 || colours < 16 {
		return fmt.Errorf("looks blank: luminance variance %.1f, %d colours", v, colours)
	}
	r := img.Bounds()
	sub, ok := img.(interface {
		SubImage(image.Rectangle) image.Image
	})
	if !ok {
		return fmt.Errorf("a %T has no sub-images", img)
	}
	if v, colours := pixelVariance(sub.SubImage(image.Rect(r.Min.X, r.Min.Y+r.Dy()/8, r.Max.X, r.Max.Y))); v < 100 || colours < 16 {
		return fmt.Errorf("looks blank below its header: luminance variance %.1f, %d colours", v, colours)
	}
	return nil
}

func TestNotBlank(t *testing.T) {
	page := func(header, body bool) image.Image {
		img := image.NewRGBA(image.Rect(0, 0, 200, 160))
		for y := range 160 {
			for x := range 200 {
				c := color.RGBA{246, 247, 249, 255}
				if header && y < 12 {
					c = color.RGBA{31, 95, 139, 255}
					if y > 3 && y < 9 && x < 100 && x%5 < 2 {
						c = color.RGBA{255, uint8(200 + x/2), 255, 255} // the header's text
					}
				}
				if body && y > 40 && y%10 < 4 && x%7 < 5 {
					c = color.RGBA{uint8(x), uint8(y), 30, 255} // text of several colours
				}
				img.Set(x, y, c)
			}
		}
		return img
	}
	if err := notBlank(page(false, false)); err == nil {
		t.Error("an empty page passed")
	}
	if err := notBlank(page(true, false)); err == nil || !strings.Contains(err.Error(), "below its header") {
		t.Errorf("a page of only its header: %v", err)
	}
	if err := notBlank(page(true, true)); err != nil {
		t.Errorf("a page with content: %v", err)
	}
}

// pixelVariance is the variance of the image's luminance (0-255) and its
// number of distinct colours.
func pixelVariance(img image.Image) (float64, int) {
	var n, sum, sq float64
	colours := map[color.RGBA]bool{}
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			l := 0.299*float64(c.R) + 0.587*float64(c.G) + 0.114*float64(c.B)
			n++
			sum += l
			sq += l * l
			if len(colours) < 1000 {
				colours[c] = true
			}
		}
	}
	mean := sum / n
	return sq/n - mean*mean, len(colours)
}

// onlyDaemon fails when a page requested anything but the daemon.
func (b *browser) onlyDaemon(base string) {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.requests) == 0 {
		b.t.Fatal("no request recorded")
	}
	for _, u := range b.requests {
		if !strings.HasPrefix(u, base+"/") && !strings.HasPrefix(u, "blob:"+base+"/") && !strings.HasPrefix(u, "data:") {
			b.t.Errorf("request outside the daemon: %s", u)
		}
	}
}

// notPwned fails when hostile text ran as script or became markup.
func (b *browser) notPwned() {
	b.t.Helper()
	var bad bool
	b.eval(`window.__pwned !== undefined || document.querySelector('img[src="x"]') !== null || document.querySelectorAll("script").length !== 1`, &bad)
	if bad {
		b.t.Fatal("stored text was rendered as markup")
	}
}

func TestConsole(t *testing.T) {
	d := startDaemon(t, nil)
	b := newBrowser(t)
	base := d.srv.URL

	// Overview: the counts come from a background pass over the log.
	b.run("overview", chromedp.Navigate(base+"/"),
		wait(fmt.Sprintf(`document.querySelector("#ov-events") && document.querySelector("#ov-events").textContent === "%d"`, d.seeded)),
		wait(`[...document.querySelectorAll("main table td a")].some(a => a.textContent === "sensor") &&
			[...document.querySelectorAll("main table tr")].some(tr => tr.textContent.startsWith("sensor") && tr.textContent.endsWith("5"))`),
		wait(`document.querySelector("svg.chart rect.bar") !== null`),
		// The child's second version is an event but not a new id.
		wait(fmt.Sprintf(`document.querySelector("#ov-ids").textContent === "%d"`, d.seeded-1)))
	if got := b.text("#ov-check"); !strings.Contains(got, "No damage found") || !strings.Contains(got, "7 segments, 12 blocks") {
		t.Errorf("check on the overview: %q", got)
	}
	for _, figure := range []string{"segments", "index_lag", "fsyncs", "wal_bytes"} {
		if got := b.text(`[data-figure="` + figure + `"]`); got == "" {
			t.Errorf("the engine's figure %s is not shown", figure)
		}
	}
	if got := b.text("#ov-size"); !strings.Contains(got, "B") {
		t.Errorf("store size %q", got)
	}
	b.screenshot("overview")
	b.notPwned()

	// Browse: a query through the form; the page's URL is the API's.
	b.run("query form", chromedp.Navigate(base+"/#/events"),
		chromedp.WaitVisible("#q-producer", chromedp.ByQuery),
		chromedp.SendKeys("#q-producer", "sensor", chromedp.ByQuery),
		chromedp.SendKeys("#q-limit", "3", chromedp.ByQuery),
		chromedp.SendKeys("#q-sort", "position:desc", chromedp.ByQuery),
		chromedp.Click("#q-add-payload", chromedp.ByQuery),
		chromedp.SendKeys("#q-pp0", "celsius", chromedp.ByQuery),
		chromedp.SendKeys("#q-pv0", "22", chromedp.ByQuery),
		chromedp.Click("#q-submit", chromedp.ByQuery),
		wait(rendered("payload.celsius")+` && document.querySelectorAll("#results-table tbody tr").length === 1`))
	var hash string
	b.eval(`location.hash`, &hash)
	if want := "#/events?producer=sensor&sort=position%3Adesc&limit=3&payload.celsius=22"; hash != want {
		t.Fatalf("page URL %q, want %q", hash, want)
	}
	if got := b.text("#results-table tbody tr td.payload"); got != `{"celsius":22}` {
		t.Errorf("row payload %q", got)
	}
	if got, want := b.text("#curl"), "curl '"+base+"/api/events?producer=sensor&sort=position%3Adesc&limit=3&payload.celsius=22'"; got != want {
		t.Errorf("curl %q, want %q", got, want)
	}
	// The live tail of the same filters is one link away.
	var tailHref string
	b.eval(`document.querySelector("#tail-link").getAttribute("href")`, &tailHref)
	if want := "#/tail?producer=sensor&payload.celsius=22"; tailHref != want {
		t.Errorf("tail link %q, want %q", tailHref, want)
	}

	// Copy as curl puts the command on the clipboard.
	b.run("clipboard permission", cdpbrowser.SetPermission(&cdpbrowser.PermissionDescriptor{Name: "clipboard-read"}, cdpbrowser.PermissionSettingGranted).WithOrigin(base),
		cdpbrowser.SetPermission(&cdpbrowser.PermissionDescriptor{Name: "clipboard-write"}, cdpbrowser.PermissionSettingGranted).WithOrigin(base))
	b.run("copy", chromedp.Click("#copy-curl", chromedp.ByQuery), wait(`document.querySelector("#copy-status").textContent === "Copied."`))
	var clip string
	b.run("read clipboard", chromedp.Evaluate(`navigator.clipboard.readText()`, &clip, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
		return p.WithAwaitPromise(true).WithUserGesture(true)
	}))
	if want := b.text("#curl"); clip != want {
		t.Errorf("clipboard %q, want the curl line %q", clip, want)
	}
	b.screenshot("browse")

	// The other filters, submitted from the keyboard (Enter in a field).
	b.run("more filters", chromedp.Navigate(base+"/#/events"),
		chromedp.WaitVisible("#q-schema", chromedp.ByQuery),
		chromedp.SendKeys("#q-schema", "note+v1, nothing", chromedp.ByQuery),
		chromedp.SendKeys("#q-start", "2000-01-01", chromedp.ByQuery),
		chromedp.SendKeys("#q-end", "2100-01-01T00:00:00Z", chromedp.ByQuery),
		chromedp.SendKeys("#q-link", "parent:"+d.parent.ID.ID, chromedp.ByQuery),
		chromedp.Click("#q-allVersions", chromedp.ByQuery),
		chromedp.SendKeys("#q-search", "child\r", chromedp.ByQuery),
		wait(rendered("search=child")+` && document.querySelector("#results h2")`))
	b.eval(`location.hash`, &hash)
	if want := "#/events?schema=note%2Bv1&schema=nothing&start=2000-01-01&end=2100-01-01T00%3A00%3A00Z&link=parent%3A" +
		d.parent.ID.ID + "&search=child&allVersions=true"; hash != want {
		t.Fatalf("page URL %q, want %q", hash, want)
	}
	var found []string
	b.eval(`[...document.querySelectorAll("#results-table tbody tr")].map(tr => tr.dataset.position)`, &found)
	if len(found) != 1 || found[0] != fmt.Sprint(d.child.Position) {
		t.Errorf("rows at positions %v, want the child's first version (%d)", found, d.child.Position)
	}

	// A bad query and a missing event show the API's own words.
	for path, want := range map[string]string{
		"/#/events?start=yesterday": "Invalid Request Format",
		"/#/events?sort=colour":     "Invalid Request Format",
		"/#/event/no-such-event":    "Not Found",
	} {
		b.run("error "+path, chromedp.Navigate(base+path),
			wait(fmt.Sprintf(`[...document.querySelectorAll('main [role="alert"]')].some(e => e.textContent.startsWith(%q))`, want)))
	}

	// Paging by nextOffset, through a shared URL.
	b.run("paging", chromedp.Navigate(base+"/#/events?producer=sensor&limit=2"),
		wait(`document.querySelectorAll("#results-table tbody tr").length === 2 && document.querySelector("#next-page")`))
	var first []string
	b.eval(`[...document.querySelectorAll("#results-table tbody tr")].map(tr => tr.dataset.position)`, &first)
	b.run("next page", chromedp.Click("#next-page", chromedp.ByQuery),
		wait(rendered("offset=2")+` && document.querySelectorAll("#results-table tbody tr").length === 2 && document.querySelector("#prev-page")`))
	var second []string
	b.eval(`[...document.querySelectorAll("#results-table tbody tr")].map(tr => tr.dataset.position)`, &second)
	if strings.Join(first, ",") != "1,2" || strings.Join(second, ",") != "3,4" {
		t.Errorf("pages %v then %v", first, second)
	}
	// The rows equal the API's answer to the same query string.
	var apiPage struct{ Events []trove.Event }
	getJSON(t, base+"/api/events?producer=sensor&limit=2&offset=2", "", &apiPage)
	if len(apiPage.Events) != 2 || fmt.Sprint(apiPage.Events[0].Position) != second[0] {
		t.Errorf("API page %+v, console %v", apiPage.Events, second)
	}

	// Hostile text renders as text.
	b.run("hostile", chromedp.Navigate(base+"/#/events?producer="+url.QueryEscape(hostile)),
		wait(`document.querySelectorAll("#results-table tbody tr").length === 1`))
	if got := b.text("#results-table tbody td.payload"); !strings.Contains(got, `<script>window.__pwned=2</script>`) {
		t.Errorf("hostile payload shown as %q", got)
	}
	b.notPwned()

	// A value with a comma and quotes survives the form: the field quotes
	// it, and submitting the form unchanged asks the same query.
	odd := `east, "eu"`
	d.save(t, trove.Event{Producer: odd, Payload: json.RawMessage(`{"title":"odd producer"}`)})
	oddHash := "#/events?producer=" + url.QueryEscape(odd)
	b.run("odd producer", chromedp.Navigate(base+"/"+oddHash),
		wait(`document.querySelectorAll("#results-table tbody tr").length === 1`))
	var field string
	b.eval(`document.querySelector("#q-producer").value`, &field)
	if field != `"east, ""eu"""` {
		t.Errorf("producer field %q", field)
	}
	b.run("resubmit", chromedp.Click("#q-sort", chromedp.ByQuery), chromedp.KeyEvent(kb.Enter),
		wait(`document.querySelector("#q-producer") && document.querySelectorAll("#results-table tbody tr").length === 1`))
	b.eval(`location.hash`, &hash)
	if hash != oddHash {
		t.Errorf("resubmitted as %q, want %q", hash, oddHash)
	}
	b.run("two producers", chromedp.SetValue("#q-producer", `sensor, "east, ""eu"""`, chromedp.ByQuery), chromedp.Click("#q-submit", chromedp.ByQuery),
		wait(rendered("producer=sensor")+` && document.querySelectorAll("#results-table tbody tr").length === 6`))
	b.eval(`location.hash`, &hash)
	if want := "#/events?producer=sensor&producer=" + url.QueryEscape(odd); hash != want {
		t.Errorf("page URL %q, want %q", hash, want)
	}

	// The list fields' reader inverts their writer on random values, and
	// takes any text without failing.
	rng := rand.New(rand.NewPCG(7, 16))
	alphabet := []rune("ab ,\"'\\\té")
	var lists [][]string
	for range 500 {
		list := make([]string, rng.IntN(4)+1)
		for i := range list {
			r := make([]rune, rng.IntN(6)+1)
			for j := range r {
				r[j] = alphabet[rng.IntN(len(alphabet))]
			}
			list[i] = string(r)
		}
		lists = append(lists, list)
	}
	in, _ := json.Marshal(lists)
	var back [][]string
	b.eval(`(`+string(in)+`).map((l) => splitList(joinList(l)))`, &back)
	for i := range lists {
		if strings.Join(back[i], "\x00") != strings.Join(lists[i], "\x00") {
			t.Errorf("list %q read back as %q", lists[i], back[i])
		}
	}
	var odds [][]string
	b.eval(`["\"", ",,,", "\"\"\"", "a\"b,\"c", " , \" ", "\"a\"\"", ""].map(splitList)`, &odds)
	if want := `[[] [] ["\""] ["a\"b" "c"] [" "] ["a\""] []]`; fmt.Sprintf("%q", odds) != want {
		t.Errorf("odd list fields read as %q, want %s", odds, want)
	}

	// One event: follow its link to the parent, and back.
	b.run("event", chromedp.Navigate(base+"/#/event/"+d.child.ID.ID+"?version=1"),
		wait(`document.querySelector("#links-out a") && document.querySelector("#event-json")`))
	if got := b.text("#versions"); !strings.Contains(got, "v1") || !strings.Contains(got, "v2") {
		t.Errorf("versions %q", got)
	}
	var ev map[string]any
	var js string
	b.eval(`document.querySelector("#event-json").textContent`, &js)
	if err := json.Unmarshal([]byte(js), &ev); err != nil || !strings.Contains(js, "\n  \"payload\"") {
		t.Errorf("event JSON not pretty-printed JSON: %v\n%s", err, js)
	}
	b.run("text preview", chromedp.Click(`button[data-preview="notes-txt"]`, chromedp.ByQuery),
		wait(`document.querySelector("#text-preview") !== null`))
	if got := b.text("#text-preview"); got != "first line\n"+hostile+"\n" {
		t.Errorf("text preview %q", got)
	}
	if got, want := b.text("#file-preview"), "Preview: notes.txtfirst line\n"+hostile+"\n"; got != want {
		t.Errorf("preview area %q, want %q", got, want)
	}
	b.notPwned()
	// Download saves the file's bytes under its name.
	downloads := t.TempDir()
	b.run("downloads", cdpbrowser.SetDownloadBehavior(cdpbrowser.SetDownloadBehaviorBehaviorAllow).WithDownloadPath(downloads),
		chromedp.Click(`#files tr:has(button[data-preview="notes-txt"]) button.download`, chromedp.ByQuery))
	if got := waitFile(t, filepath.Join(downloads, "notes.txt")); got != "first line\n"+hostile+"\n" {
		t.Errorf("downloaded notes.txt holds %q", got)
	}
	b.run("image preview", chromedp.Click(`button[data-preview="dot-png"]`, chromedp.ByQuery),
		wait(`(document.querySelector("#file-preview img") || {}).naturalWidth === 8`))
	b.screenshot("event")
	b.run("follow link", chromedp.Click("#links-out a", chromedp.ByQuery),
		wait(fmt.Sprintf(`(document.querySelector("#event-id") || {}).textContent === %q && document.querySelector("#links-in a")`, d.parent.ID.ID)))
	if got := b.text("#links-in"); !strings.Contains(got, d.child.ID.ID) || !strings.Contains(got, "parent") {
		t.Errorf("incoming links %q", got)
	}
	b.run("follow back", chromedp.Click("#links-in a", chromedp.ByQuery),
		wait(fmt.Sprintf(`(document.querySelector("#event-id") || {}).textContent === %q`, d.child.ID.ID)))

	// The event whose id is "stream" is not the stream route.
	d.save(t, trove.Event{ID: trove.EventID{ID: "stream"}, Producer: "web", Payload: json.RawMessage(`{"title":"named stream"}`)})
	b.run("event named stream", chromedp.Navigate(base+"/#/event/stream"),
		wait(`(document.querySelector("#event-id") || {}).textContent === "stream" && document.querySelector("#event-json").textContent.includes("named stream")`))

	// Live tail: only matching events arrive, newest first, and resume
	// after a pause picks up what came meanwhile.
	b.run("tail", chromedp.Navigate(base+"/#/tail?producer=live"),
		wait(`(document.querySelector("#tail-state") || {}).textContent === "live"`))
	// The page's clock stands still while the first event arrives, so that
	// its arrival is inside the rate's 5 s window however slowly the
	// browser runs: 1 event in 5 s.
	var frozen bool
	b.eval(`(() => { const t0 = Date.now(); window.realNow = Date.now; Date.now = () => t0; return true })()`, &frozen)
	d.save(t, trove.Event{Producer: "other", Payload: json.RawMessage(`{"title":"not me"}`)})
	e1 := d.save(t, trove.Event{Producer: "live", Payload: json.RawMessage(`{"title":"first live"}`)})
	b.run("tail first", wait(fmt.Sprintf(`document.querySelector("#tail-rows tr") && document.querySelector("#tail-rows tr").dataset.position === "%d"`, e1.Position)),
		wait(`document.querySelector("#tail-rate").textContent.includes("1 received")`),
		wait(`document.querySelector("#tail-rate").textContent.startsWith("0.2 events/s")`))
	b.eval(`(() => { Date.now = window.realNow; return true })()`, &frozen)
	b.run("pause", chromedp.Click("#tail-pause", chromedp.ByQuery), wait(`document.querySelector("#tail-state").textContent.startsWith("paused")`))
	e2 := d.save(t, trove.Event{Producer: "live", Payload: json.RawMessage(`{"title":"second live"}`)})
	b.run("resume", chromedp.Click("#tail-pause", chromedp.ByQuery),
		wait(fmt.Sprintf(`document.querySelector("#tail-rows tr").dataset.position === "%d"`, e2.Position)))
	var rows []string
	b.eval(`[...document.querySelectorAll("#tail-rows tr")].map(tr => tr.dataset.position)`, &rows)
	if want := []string{fmt.Sprint(e2.Position), fmt.Sprint(e1.Position)}; strings.Join(rows, ",") != strings.Join(want, ",") {
		t.Errorf("tail rows %v, want %v", rows, want)
	}
	if got := b.text("#tail-rate"); !strings.Contains(got, "events/s") {
		t.Errorf("rate %q", got)
	}
	b.screenshot("tail")

	// Schemas: the registry and inline schemas, each with its document.
	b.run("schemas", chromedp.Navigate(base+"/#/schemas"),
		wait(`document.querySelector("#schemas-table") && document.querySelector("#schemas-table").textContent.includes("note+v1")`))
	if got := b.text("#schemas-table"); !strings.Contains(got, "reading") || !strings.Contains(got, "inline in events") {
		t.Errorf("schemas table %q", got)
	}
	b.screenshot("schemas")
	b.run("schema", chromedp.Click(`#schemas-table a[href="#/schema/reading"]`, chromedp.ByQuery),
		wait(`document.querySelector("#schema-doc") && document.querySelectorAll("#schema-events tbody tr").length === 5`))
	if got := b.text("#schema-doc"); !strings.Contains(got, "celsius") {
		t.Errorf("schema document %q", got)
	}

	b.screenshot("schema")

	// A phone-sized screen, every page: nothing wider than the screen but
	// tables and preformatted text, which scroll in their own box.
	b.phone("overview", base+"/", `document.querySelector("#ov-check") && document.querySelector("svg.chart")`)
	b.phone("browse", base+"/#/events?producer=sensor&payload.celsius=21", `document.querySelectorAll("#results-table tbody tr").length === 1 && document.querySelector("#q-pp0")`)
	// There the query that ran folds away, under a summary of it, so that
	// the results are on the first screen.
	var folded struct {
		Open    bool
		Summary string
		Top     float64
	}
	b.eval(`({Open: document.querySelector("#q-details").open, Summary: document.querySelector("#q-summary").textContent,
		Top: document.querySelector("#results-table").getBoundingClientRect().top})`, &folded)
	if folded.Open || folded.Summary != "Query: producer=sensor · payload.celsius=21" || folded.Top > 812 {
		t.Errorf("the query on a phone: %+v", folded)
	}
	b.phone("event", base+"/#/event/"+d.child.ID.ID+"?version=1", `document.querySelector("#links-out a") && document.querySelector("#event-json")`)
	b.run("phone preview", chromedp.Click(`button[data-preview="notes-txt"]`, chromedp.ByQuery), wait(`document.querySelector("#text-preview")`))
	b.screenshot("phone-event-preview")
	b.phone("tail", base+"/#/tail", `(document.querySelector("#tail-state") || {}).textContent === "live" && document.querySelector("#tail-rows tr")`)
	b.phone("schemas", base+"/#/schemas", `document.querySelector("#schemas-table")`)
	b.phone("schema", base+"/#/schema/reading", `document.querySelector("#schema-doc") && document.querySelectorAll("#schema-events tbody tr").length === 5`)
	b.onlyDaemon(base)
}

func TestConsoleAuth(t *testing.T) {
	d := startDaemon(t, []string{"s3cret"})
	base := d.srv.URL
	// The API is closed without the token; the page itself is not.
	for _, path := range []string{"/api/stats", "/api/events", "/api/events/stream", "/api/schemas"} {
		if code := getJSON(t, base+path, "", nil); code != 401 {
			t.Errorf("%s without a token: %d", path, code)
		}
	}
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "connect-src 'self'") {
		t.Fatalf("console page %d %v", resp.StatusCode, resp.Header)
	}

	b := newBrowser(t)
	b.run("login form", chromedp.Navigate(base+"/"), chromedp.WaitVisible("#login-token", chromedp.ByQuery))
	if got := b.text("main"); strings.Contains(got, "sensor") || strings.Contains(got, "Events") {
		t.Errorf("data shown before login: %q", got)
	}
	b.screenshot("login")
	// The dialog takes the focus and keeps it: the page behind is inert.
	b.audit("login")
	var focus string
	b.eval(`document.activeElement.id`, &focus)
	if focus != "login-token" {
		t.Errorf("the sign-in dialog opened with focus on %q", focus)
	}
	for i := range 4 {
		var inside bool
		b.run("tab in dialog", chromedp.KeyEvent(kb.Tab),
			chromedp.Evaluate(`document.activeElement === document.body || document.getElementById("login").contains(document.activeElement)`, &inside))
		if !inside {
			b.eval(`document.activeElement.outerHTML.slice(0, 80)`, &focus)
			t.Errorf("Tab number %d left the sign-in dialog for %s", i+1, focus)
		}
	}
	b.run("wrong token", chromedp.SendKeys("#login-token", "nope", chromedp.ByQuery), chromedp.Click(`#login-form button[type="submit"]`, chromedp.ByQuery),
		wait(`document.querySelector("#login-error").textContent.includes("refused") && !document.querySelector("#login").hidden`))
	// The right one typed and sent from the keyboard alone.
	b.run("right token", wait(`document.activeElement.id === "login-token"`), chromedp.KeyEvent("s3cret"), chromedp.KeyEvent(kb.Enter),
		wait(fmt.Sprintf(`(document.querySelector("#ov-events") || {}).textContent === "%d" && document.querySelector("#login").hidden`, d.seeded)))
	b.mu.Lock()
	signedIn := len(b.requests)
	b.mu.Unlock()
	var stored struct{ Session, Local string }
	b.eval(`({Session: sessionStorage.getItem("trove.token") || "", Local: JSON.stringify(localStorage)})`, &stored)
	if stored.Session != "s3cret" || stored.Local != "{}" {
		t.Errorf("token kept as %+v", stored)
	}
	b.screenshot("overview-auth")

	// Every page works with the bearer header, the stream included.
	b.run("query with token", chromedp.Navigate(base+"/#/events?producer=web"),
		wait(`document.querySelectorAll("#results-table tbody tr").length === 2`))
	if got := b.text("#curl"); !strings.Contains(got, `-H "Authorization: Bearer $TROVE_TOKEN"`) || strings.Contains(got, "s3cret") {
		t.Errorf("curl %q", got)
	}
	b.run("file with token", chromedp.Navigate(base+"/#/event/"+d.child.ID.ID+"?version=1"),
		chromedp.WaitVisible(`button[data-preview="dot-png"]`, chromedp.ByQuery),
		chromedp.Click(`button[data-preview="dot-png"]`, chromedp.ByQuery),
		wait(`(document.querySelector("#file-preview img") || {}).naturalWidth === 8`))
	b.run("tail with token", chromedp.Navigate(base+"/#/tail"),
		wait(`(document.querySelector("#tail-state") || {}).textContent === "live" && document.querySelectorAll("#tail-rows tr").length > 0`))
	e := d.save(t, trove.Event{Producer: "live", Payload: json.RawMessage(`{"title":"with auth"}`)})
	b.run("tail event", wait(fmt.Sprintf(`document.querySelector("#tail-rows tr").dataset.position === "%d"`, e.Position)))

	b.run("schemas with token", chromedp.Navigate(base+"/#/schemas"), wait(`document.querySelector("#schemas-table")`),
		chromedp.Navigate(base+"/#/schema/reading"), wait(`document.querySelector("#schema-doc")`))

	// Every API request after signing in carried the token; without it,
	// none of them answers.
	b.mu.Lock()
	apiCalls := map[string]bool{}
	for i, u := range b.requests[signedIn:] {
		if !strings.HasPrefix(u, base+"/api/") {
			continue
		}
		apiCalls[strings.SplitN(strings.TrimPrefix(u, base), "?", 2)[0]] = true
		if got := b.bearer[signedIn+i]; got != "Bearer s3cret" {
			t.Errorf("%s sent with Authorization %q", u, got)
		}
	}
	b.mu.Unlock()
	for _, path := range []string{"/api/stats", "/api/events", "/api/events/stream", "/api/events/" + d.child.ID.ID,
		"/api/events/" + d.child.ID.ID + "/links", "/api/files/dot-png/data", "/api/schemas", "/api/schemas/reading"} {
		if !apiCalls[path] {
			t.Errorf("the console did not call %s (it called %v)", path, apiCalls)
		}
	}
	for path := range apiCalls {
		if code := getJSON(t, base+path, "", nil); code != 401 {
			t.Errorf("%s without a token: %d", path, code)
		}
		if code := getJSON(t, base+path, "wrong-token-of-some-length", nil); code != 401 {
			t.Errorf("%s with a wrong token: %d", path, code)
		}
	}

	// Forgetting the token closes the console again.
	b.run("forget", chromedp.Click("#forget", chromedp.ByQuery), chromedp.WaitVisible("#login-token", chromedp.ByQuery))
	b.eval(`sessionStorage.getItem("trove.token") || ""`, &stored.Session)
	if stored.Session != "" {
		t.Error("token kept after forgetting it")
	}
	b.phone("login", base+"/", `!document.querySelector("#login").hidden && document.activeElement.id === "login-token"`)
	b.onlyDaemon(base)
}

// waitFile returns the content of the file at path once the browser has
// written it whole (a download in progress has another name), waiting at
// most a minute.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	for range 600 {
		if b, err := os.ReadFile(path); err == nil {
			return string(b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s was not downloaded", path)
	return ""
}

// getJSON GETs url with the bearer token (when not empty), decodes the
// body into out (when not nil) and returns the status.
func getJSON(t *testing.T, u, token string, out any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s: %v", u, err)
		}
	}
	return resp.StatusCode
}
