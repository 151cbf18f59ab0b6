// Burns ~2 s of CPU in goBurn, writes the process's CPU time (getrusage:
// user+system, all threads) to argv[1] as "<seconds>\n", then os.Exit(0):
// Go's exit is a raw exit_group, so no exit handler of the profiler runs.
// The empty cgo import makes the binary dynamically linked, as LD_PRELOAD
// needs.
package main

import "C"

import (
	"fmt"
	"os"
	"syscall"
)

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fmt.Fprintln(os.Stderr, "getrusage:", err)
		os.Exit(2)
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

var sink uint64

//go:noinline
func goBurn(secs float64) {
	end := cpuSeconds() + secs
	x := uint64(1)
	for cpuSeconds() < end {
		for i := 0; i < 100000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	sink = x
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: lossless CPUFILE")
		os.Exit(2)
	}
	goBurn(2.0)
	if err := os.WriteFile(os.Args[1], []byte(fmt.Sprintf("%.6f\n", cpuSeconds())), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Println("go: burned")
	os.Exit(0)
}
