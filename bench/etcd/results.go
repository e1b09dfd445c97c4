package main

import (
	"fmt"
	"math"
	"strings"
	"time"
)

type results struct {
	Load, LoadAfter string
	vals            map[string]map[string]figure // row -> system -> figure
}

func (r *results) set(sys, row string, f figure) {
	if r.vals == nil {
		r.vals = map[string]map[string]figure{}
	}
	if r.vals[row] == nil {
		r.vals[row] = map[string]figure{}
	}
	r.vals[row][sys] = f
}

// ratio says how Roster compares: > 1 means Roster is better.
func ratio(ro, et figure) float64 {
	if ro.rate > 0 && et.rate > 0 {
		return ro.rate / et.rate
	}
	if ro.d > 0 && et.d > 0 {
		return float64(et.d) / float64(ro.d)
	}
	return 0
}

func (r *results) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Roster and etcd side by side\n\n")
	fmt.Fprintf(&b, "3 clusternode agents (this repository, `-profile fast`, default log store) and a 3-member etcd %s\n", "(Debian's `etcd-server`, default settings)")
	fmt.Fprintf(&b, "on loopback, driven by one harness (`bench/etcd`: HTTP keep-alive clients for Roster, etcd's Go client).\n")
	fmt.Fprintf(&b, "Measured %s; load average %s before, %s after (2 cores shared with other work).\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), r.Load, r.LoadAfter)
	b.WriteString("| work | Roster | etcd | Roster vs etcd |\n| --- | --- | --- | --- |\n")
	for _, row := range rowOrder {
		ro, et := r.vals[row]["Roster"], r.vals[row]["etcd"]
		fmt.Fprintf(&b, "| %s | %s | %s | %.2f× |\n", row, ro, et, ratio(ro, et))
	}
	b.WriteString("\n\"Roster vs etcd\" above 1 means Roster is faster (shorter time or higher rate).\n")
	b.WriteString("Every Roster registration is bound to its owner's liveness (process and node), so the lease row\n")
	b.WriteString("is the same operation as a plain register; etcd needs a lease (granted once per client, kept alive).\n")
	b.WriteString("etcd raises a TTL below its minimum (1.5 × election timeout, rounded up: 2 s with the defaults) to it.\n\n")
	b.WriteString("Reproduce: `bench/etcd/run.sh` (installs `etcd-server`, builds clusternode, runs `cd bench/etcd && go run . -roster ...`).\n")
	return b.String()
}

// svg draws one horizontal bar pair per row, each row scaled to its own
// larger value, labelled with both figures.
func (r *results) svg() string {
	const w, rowH, left, barW = 980, 46, 430, 380
	h := 70 + rowH*len(rowOrder) + 30
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="16" font-weight="bold">Roster vs etcd, 3 members on loopback (bench/etcd)</text>`+"\n")
	fmt.Fprintf(&b, `<rect x="10" y="34" width="12" height="12" fill="#2b6cb0"/><text x="28" y="45">Roster</text>`)
	fmt.Fprintf(&b, `<rect x="90" y="34" width="12" height="12" fill="#dd6b20"/><text x="108" y="45">etcd</text>`)
	fmt.Fprintf(&b, `<text x="170" y="45" fill="#555">times: shorter is better; rates (/s): longer is better; each row on its own scale</text>`+"\n")
	for i, row := range rowOrder {
		ro, et := r.vals[row]["Roster"], r.vals[row]["etcd"]
		y := 70 + i*rowH
		fmt.Fprintf(&b, `<text x="10" y="%d">%s</text>`+"\n", y+18, esc(shorten(row)))
		top := math.Max(val(ro), val(et))
		for j, f := range []figure{ro, et} {
			bw := 0.0
			if top > 0 {
				bw = barW * val(f) / top
			}
			color := []string{"#2b6cb0", "#dd6b20"}[j]
			by := y + 4 + j*18
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="15" fill="%s"/>`, left, by, bw, color)
			fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`+"\n", float64(left)+bw+6, by+12, esc(f.String()))
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func val(f figure) float64 {
	if f.rate > 0 {
		return f.rate
	}
	return float64(f.d)
}

func shorten(s string) string {
	if len(s) > 68 {
		return s[:65] + "..."
	}
	return s
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
