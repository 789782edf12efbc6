package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// phoneWidth is the CSS width of a small phone's screen (iPhone SE, 13
// mini), the narrowest the console is checked at.
const phoneWidth = 375

// auditScript lists what keeps the page on screen from keyboard and
// screen-reader users: landmarks, the skip link, labels, tab order,
// controls that are not buttons or links. It runs with the DevTools
// command-line API, for getEventListeners.
const auditScript = `(() => {
	const problems = [];
	const desc = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className && typeof e.className === "string" ? "." + e.className.split(" ")[0] : "");
	if (document.querySelectorAll("main").length !== 1) problems.push("not one main landmark");
	if (!document.querySelector("header nav[aria-label]")) problems.push("no labelled nav landmark in the header");
	const login = document.getElementById("login");
	const dialog = login && !login.hidden;
	if (!dialog && document.querySelectorAll("main h1").length !== 1) problems.push("not one h1 in main");
	const focusables = [...document.querySelectorAll("a[href], button, input, select, textarea, summary, [tabindex]")]
		.filter((e) => e.tabIndex >= 0 && !e.disabled && e.checkVisibility({ visibilityProperty: true }) && !e.closest("[inert]"));
	if (!dialog) {
		const skip = focusables[0];
		if (!skip || skip.id !== "skip" || skip.getAttribute("href") !== "#main") problems.push("the first focusable element is not the skip link to main");
	}
	for (const e of document.querySelectorAll("[tabindex]")) if (e.tabIndex > 0) problems.push(desc(e) + " has a positive tabindex");
	for (const e of document.querySelectorAll("input, select, textarea")) {
		if (e.type === "hidden") continue;
		if (!e.labels.length && !e.getAttribute("aria-label") && !e.getAttribute("aria-labelledby")) problems.push(desc(e) + " has no label");
	}
	for (const e of document.querySelectorAll("label[for]")) if (!document.getElementById(e.htmlFor)) problems.push("label for missing #" + e.htmlFor);
	for (const e of document.querySelectorAll("button")) if (!["button", "submit"].includes(e.getAttribute("type"))) problems.push(desc(e) + " has no explicit type");
	for (const e of document.querySelectorAll("a")) if (!e.hasAttribute("href")) problems.push(desc(e) + " is a link without href");
	for (const e of document.querySelectorAll("img")) if (!e.getAttribute("alt")) problems.push(desc(e) + " has no alt text");
	for (const e of document.querySelectorAll("svg")) if (e.getAttribute("role") !== "img" || !e.getAttribute("aria-label")) problems.push(desc(e) + " has no role=img and label");
	for (const e of document.querySelectorAll("th")) if (!e.getAttribute("scope")) problems.push(desc(e) + " has no scope");
	// Only buttons, links and form controls react to clicks and keys.
	for (const e of [document.body, ...document.body.querySelectorAll("*")]) {
		const l = getEventListeners(e);
		if ((l.click || l.mousedown || l.pointerdown || l.keydown || l.keyup) && !["BUTTON", "A", "INPUT", "SELECT", "TEXTAREA"].includes(e.tagName)) problems.push(desc(e) + " handles clicks or keys but is no button, link or control");
	}
	return problems;
})()`

// audit fails on what auditScript finds, and on any control or link in
// Chromium's accessibility tree that has no accessible name.
func (b *browser) audit(page string) {
	b.t.Helper()
	var problems []string
	b.run("audit "+page, chromedp.Evaluate(auditScript, &problems, chromedp.EvalWithCommandLineAPI))
	var nodes []*accessibility.Node
	b.run("accessibility tree "+page, chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		nodes, err = accessibility.GetFullAXTree().Do(ctx)
		return err
	}))
	named := map[string]bool{"button": true, "link": true, "textbox": true, "searchbox": true, "spinbutton": true,
		"combobox": true, "checkbox": true, "radio": true, "switch": true, "dialog": true, "image": true, "navigation": true}
	controls := 0
	for _, n := range nodes {
		if n.Ignored || n.Role == nil {
			continue
		}
		var role, name string
		_ = json.Unmarshal(n.Role.Value, &role)
		if n.Name != nil {
			_ = json.Unmarshal(n.Name.Value, &name)
		}
		if !named[role] {
			continue
		}
		controls++
		if strings.TrimSpace(name) == "" {
			problems = append(problems, fmt.Sprintf("a %s (DOM node %d) has no accessible name", role, n.BackendDOMNodeID))
		}
	}
	if controls == 0 {
		problems = append(problems, "the accessibility tree holds no control")
	}
	b.t.Logf("%s: %d named controls in the accessibility tree", page, controls)
	if len(problems) > 0 {
		b.t.Errorf("%s: %d accessibility problems:\n  %s", page, len(problems), strings.Join(problems, "\n  "))
	}
}

// focusables lists the page's keyboard-focusable elements in document
// order, as window.__focusables, and returns how many there are.
const focusablesScript = `(() => {
	window.__focusables = [...document.querySelectorAll("a[href], button, input, select, textarea, summary, [tabindex]")]
		.filter((e) => e.tabIndex >= 0 && !e.disabled && e.checkVisibility({ visibilityProperty: true }) && !e.closest("[inert]") && getComputedStyle(e).visibility !== "hidden");
	return window.__focusables.length;
})()`

// tabOrder loads url afresh, waits for ready, then presses Tab once per
// focusable element: focus must visit every one in document order (which
// is the visual order: the layout moves nothing out of it), each with a
// visible focus outline.
func (b *browser) tabOrder(page, url, ready string) {
	b.t.Helper()
	b.run("load "+page, chromedp.Navigate("about:blank"), chromedp.Navigate(url), wait(ready))
	var n int
	b.eval(focusablesScript, &n)
	if n < 5 {
		b.t.Fatalf("%s: only %d focusable elements", page, n)
	}
	type stop struct {
		Index   int
		Desc    string
		Outline string
	}
	var visited []stop
	for range n {
		var s stop
		b.run("tab on "+page, chromedp.KeyEvent(kb.Tab), chromedp.Evaluate(`(() => {
			const e = document.activeElement;
			const cs = getComputedStyle(e);
			return {Index: window.__focusables.indexOf(e), Desc: e.tagName + "#" + e.id + " " + (e.textContent || e.name || "").trim().slice(0, 30),
				Outline: cs.outlineStyle === "none" || cs.outlineWidth === "0px" ? "" : cs.outlineStyle + " " + cs.outlineWidth};
		})()`, &s))
		visited = append(visited, s)
	}
	b.t.Logf("%s: Tab visited %d focusable elements", page, n)
	for i, s := range visited {
		if s.Index != i {
			b.t.Errorf("%s: Tab number %d focused %q (focusable %d), want focusable %d", page, i+1, s.Desc, s.Index, i)
			return
		}
		if s.Outline == "" {
			b.t.Errorf("%s: %q has no visible focus outline", page, s.Desc)
		}
	}
}

// tabTo presses Tab until the focused element matches sel, at most max
// times.
func (b *browser) tabTo(sel string, max int) {
	b.t.Helper()
	for range max {
		var ok bool
		b.run("tab to "+sel, chromedp.KeyEvent(kb.Tab), chromedp.Evaluate(fmt.Sprintf(`document.activeElement.matches(%q)`, sel), &ok))
		if ok {
			return
		}
	}
	b.t.Fatalf("%s not reached with %d presses of Tab", sel, max)
}

// phone checks the page at url, on a phone-sized screen: nothing sticks
// out past the screen's right edge but inside a box that scrolls by
// itself (wide tables, preformatted text), and the page does not scroll
// sideways. It saves the screenshot as phone-NAME.
func (b *browser) phone(name, url, ready string) {
	b.t.Helper()
	b.run("phone "+name, chromedp.EmulateViewport(phoneWidth, 812, chromedp.EmulateMobile),
		chromedp.Navigate(url), wait(ready))
	var out struct {
		ScrollWidth int
		Wide        []string
	}
	b.eval(fmt.Sprintf(`(() => {
		const wide = [];
		for (const e of document.querySelectorAll("body *")) {
			if (e.closest(".table-wrap, pre, svg, .skip")) continue;
			const r = e.getBoundingClientRect();
			if (r.width && r.right > %d + 0.5) wide.push(e.tagName + "#" + e.id + "." + e.className + " right=" + Math.round(r.right));
		}
		return {ScrollWidth: document.documentElement.scrollWidth, Wide: wide.slice(0, 10)};
	})()`, phoneWidth), &out)
	if out.ScrollWidth > phoneWidth || len(out.Wide) > 0 {
		b.t.Errorf("%s on a %d px screen: page %d px wide; past the edge: %v", name, phoneWidth, out.ScrollWidth, out.Wide)
	}
	b.screenshot("phone-" + name)
}

func TestConsoleKeyboard(t *testing.T) {
	d := startDaemon(t, nil)
	b := newBrowser(t)
	base := d.srv.URL

	// Every page: landmarks, labels, names, buttons that are buttons.
	pages := []struct{ name, path, ready string }{
		{"overview", "/", `document.querySelector("#ov-check") && document.querySelectorAll("main table td a").length === 5`},
		{"browse", "/#/events?producer=sensor&limit=2&payload.celsius=20", `document.querySelector("#results-table") && document.querySelector("#q-pp0")`},
		{"event", "/#/event/" + d.child.ID.ID + "?version=1", `document.querySelector("#event-json") && document.querySelector("#links-out a")`},
		{"tail", "/#/tail", `(document.querySelector("#tail-state") || {}).textContent === "live" && document.querySelector("#tail-rows tr")`},
		{"schemas", "/#/schemas", `document.querySelector("#schemas-table")`},
		{"schema", "/#/schema/reading", `document.querySelector("#schema-doc") && document.querySelector("#schema-events")`},
	}
	for _, p := range pages {
		b.run("load "+p.name, chromedp.Navigate(base+p.path), wait(p.ready))
		if p.name == "event" {
			b.run("previews", chromedp.Click(`button[data-preview="dot-png"]`, chromedp.ByQuery),
				wait(`(document.querySelector("#file-preview img") || {}).naturalWidth === 8`))
		}
		b.audit(p.name)
	}

	// Tab visits every control in order, with a visible outline.
	for _, p := range pages {
		b.tabOrder(p.name, base+p.path, p.ready)
	}

	// The overview's refresh keeps the focus on the link it was on.
	b.run("overview", chromedp.Navigate("about:blank"), chromedp.Navigate(base+"/"), wait(pages[0].ready))
	b.tabTo(`#ov-body a[href="#/events?producer=web"]`, 20)
	var draws int
	b.eval(`Number(document.querySelector("#ov-body").dataset.draws)`, &draws)
	b.run("refresh", wait(fmt.Sprintf(`Number(document.querySelector("#ov-body").dataset.draws) > %d`, draws)))
	var kept bool
	b.eval(`document.activeElement.isConnected && document.activeElement.matches('#ov-body a[href="#/events?producer=web"]')`, &kept)
	if !kept {
		var at string
		b.eval(`document.activeElement.outerHTML.slice(0, 80)`, &at)
		t.Errorf("after the overview's refresh focus is on %s", at)
	}

	// A whole visit without the mouse. The skip link comes first and moves
	// focus to the main area, whose first control is the schema field.
	b.run("fresh browse", chromedp.Navigate("about:blank"), chromedp.Navigate(base+"/#/events"), wait(`document.querySelector("#q-schema")`))
	var focused string
	b.run("skip link", chromedp.KeyEvent(kb.Tab), chromedp.Evaluate(`document.activeElement.id`, &focused))
	if focused != "skip" {
		t.Fatalf("first Tab focused %q, want the skip link", focused)
	}
	b.run("follow skip link", chromedp.KeyEvent(kb.Enter), chromedp.Evaluate(`document.activeElement.id`, &focused))
	if focused != "main" {
		t.Fatalf("the skip link moved focus to %q, want main", focused)
	}
	var hash string
	b.eval(`location.hash`, &hash)
	if hash != "#/events" {
		t.Errorf("the skip link changed the page to %q", hash)
	}
	b.run("query summary", chromedp.KeyEvent(kb.Tab), chromedp.Evaluate(`document.activeElement.id`, &focused))
	if focused != "q-summary" {
		t.Errorf("Tab after the skip link focused %q, want the query form's summary", focused)
	}
	b.run("first field", chromedp.KeyEvent(kb.Tab), chromedp.Evaluate(`document.activeElement.id`, &focused))
	if focused != "q-schema" {
		t.Errorf("Tab after the summary focused %q, want q-schema", focused)
	}
	// A payload condition added with the keyboard takes the focus; Enter
	// in a field runs the query.
	b.tabTo("#q-producer", 3)
	b.run("type producer", chromedp.KeyEvent("web"))
	b.tabTo("#q-add-payload", 20)
	b.run("add condition", chromedp.KeyEvent(kb.Enter), chromedp.Evaluate(`document.activeElement.id`, &focused))
	if focused != "q-pp0" {
		t.Fatalf("after adding a payload condition focus is on %q, want q-pp0", focused)
	}
	b.run("condition", chromedp.KeyEvent("title"), chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent("parent"), chromedp.KeyEvent(kb.Enter),
		wait(rendered("payload.title=parent")+` && document.querySelectorAll("#results-table tbody tr").length === 1`))
	// Open the parent, follow its incoming link to the child, preview the
	// child's text file.
	b.tabTo("#results-table a", 40)
	b.run("open result", chromedp.KeyEvent(kb.Enter),
		wait(fmt.Sprintf(`(document.querySelector("#event-id") || {}).textContent === %q && document.querySelector("#links-in a")`, d.parent.ID.ID)))
	b.eval(`document.activeElement.id`, &focused)
	if focused != "main" {
		t.Errorf("after a page change focus is on %q, want main", focused)
	}
	b.tabTo("#links-in a", 40)
	b.run("follow link by keyboard", chromedp.KeyEvent(kb.Enter),
		wait(fmt.Sprintf(`(document.querySelector("#event-id") || {}).textContent === %q && document.querySelector('button[data-preview="notes-txt"]')`, d.child.ID.ID)))
	b.tabTo(`button[data-preview="notes-txt"]`, 40)
	b.run("preview by keyboard", chromedp.KeyEvent(" "), wait(`document.querySelector("#text-preview")`))
	// The live tail pauses from the keyboard.
	b.run("tail", chromedp.Navigate(base+"/#/tail"), wait(`(document.querySelector("#tail-state") || {}).textContent === "live"`))
	b.run("focus main", chromedp.Evaluate(`document.getElementById("main").focus()`, nil))
	b.tabTo("#tail-pause", 30)
	b.run("pause by keyboard", chromedp.KeyEvent(kb.Enter), wait(`document.querySelector("#tail-state").textContent.startsWith("paused") && document.querySelector("#tail-pause").getAttribute("aria-pressed") === "true"`))
	b.onlyDaemon(base)
}
