package main

import "time"

// clock makes the daemon's own timers (client process TTLs) injectable so
// tests advance time instead of sleeping.
type clock interface {
	NewTimer(d time.Duration) clockTimer
}

// clockTimer is the part of *time.Timer the daemon uses.
type clockTimer interface {
	C() <-chan time.Time
	Reset(d time.Duration)
	Stop()
}

// wallClock is the real clock.
type wallClock struct{}

func (wallClock) NewTimer(d time.Duration) clockTimer { return wallTimer{time.NewTimer(d)} }

type wallTimer struct{ t *time.Timer }

func (w wallTimer) C() <-chan time.Time   { return w.t.C }
func (w wallTimer) Reset(d time.Duration) { w.t.Reset(d) }
func (w wallTimer) Stop()                 { w.t.Stop() }
