package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// bar is a one-line progress bar redrawn in place with carriage returns;
// it is used only when stderr is a terminal, so logs and pipes never see
// control characters.
type bar struct {
	w      io.Writer
	label  string
	total  int
	done   int
	start  time.Time
	last   time.Time
	active bool
}

func (b *bar) Start(label string, total int) {
	b.label, b.total, b.done = label, total, 0
	b.start = time.Now()
	b.active = true
	b.draw()
}

func (b *bar) Set(done int) {
	b.done = done
	if time.Since(b.last) >= 100*time.Millisecond {
		b.draw()
	}
}

func (b *bar) Done() {
	if b.active {
		fmt.Fprint(b.w, "\r\033[K")
		b.active = false
	}
}

// Logf prints a log line above the bar without leaving a stale bar behind.
func (b *bar) Logf(format string, args ...any) {
	fmt.Fprintf(b.w, "\r\033[K"+format+"\n", args...)
	if b.active {
		b.draw()
	}
}

func (b *bar) draw() {
	b.last = time.Now()
	el := time.Since(b.start).Seconds()
	if b.total <= 0 {
		fmt.Fprintf(b.w, "\r\033[K%s  %.0fs", b.label, el)
		return
	}
	const width = 30
	frac := min(float64(b.done)/float64(b.total), 1)
	fill := int(frac * width)
	eta := ""
	if frac > 0 && frac < 1 {
		eta = fmt.Sprintf(" eta %.0fs", el/frac-el)
	}
	fmt.Fprintf(b.w, "\r\033[K%s [%s%s] %3.0f%% %d/%d %.0fs%s",
		b.label, strings.Repeat("=", fill), strings.Repeat(" ", width-fill), 100*frac, b.done, b.total, el, eta)
}
